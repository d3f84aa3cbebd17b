package sfu

import (
	"sync"

	"github.com/pion/interceptor"
)

// onReceive makes, for each PeerConnection, the interceptors of its factories chained,
// and starts them only when the PeerConnection receives its first stream. They are the
// ones that act on what a publisher sends (NACK generation, receiver reports,
// transport-wide congestion control feedback), each of which starts a goroutine with a
// ticker when the PeerConnection binds its RTCP writer (the NACK generator's wakes up
// every 100 ms): a subscriber's PeerConnection, which receives nothing, would otherwise
// run three of them for nothing, some 20 wake-ups a second per subscriber.
//
// The interceptors must leave the RTCP writer as they get it (they keep it to send their
// feedback), and do nothing with the streams the PeerConnection sends.
type onReceive []interceptor.Factory

// NewInterceptor makes the interceptors of a PeerConnection, not started.
func (f onReceive) NewInterceptor(id string) (interceptor.Interceptor, error) {
	all := make([]interceptor.Interceptor, 0, len(f))
	for _, factory := range f {
		i, err := factory.NewInterceptor(id)
		if err != nil {
			return nil, err
		}
		all = append(all, i)
	}
	return &receiveInterceptor{Interceptor: interceptor.NewChain(all)}, nil
}

// receiveInterceptor is the chain of one PeerConnection's interceptors, whose RTCP
// writer is bound once the PeerConnection has both bound its writer and a remote stream.
type receiveInterceptor struct {
	interceptor.Interceptor

	mu      sync.Mutex // guards writer, wanted and started
	writer  interceptor.RTCPWriter
	wanted  bool // a remote stream was bound
	started bool
}

// BindRTCPWriter keeps the PeerConnection's RTCP writer and returns it.
func (r *receiveInterceptor) BindRTCPWriter(writer interceptor.RTCPWriter) interceptor.RTCPWriter {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.writer == nil {
		r.writer = writer
	}
	r.startLocked()
	return writer
}

// BindRemoteStream starts the interceptors, the first time, and binds the stream.
func (r *receiveInterceptor) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	r.mu.Lock()
	r.wanted = true
	r.startLocked()
	r.mu.Unlock()
	return r.Interceptor.BindRemoteStream(info, reader)
}

// startLocked binds the interceptors' RTCP writer, which starts their goroutines, once
// there is a writer and a stream; r.mu is held.
func (r *receiveInterceptor) startLocked() {
	if r.started || !r.wanted || r.writer == nil {
		return
	}
	r.started = true
	r.Interceptor.BindRTCPWriter(r.writer)
}
