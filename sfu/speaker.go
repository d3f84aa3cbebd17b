package sfu

import (
	"sync"
	"time"

	"webinaire/sfu/signal"
)

// Active speaker detection from the audio level header extension (RFC 6464), which
// browsers put on every Opus packet: the level of the packet in -dBov, 0 the loudest,
// 127 silence. Each audio track averages it over levelWindow packets (half a second at
// 50 packets a second) in its own goroutine, at no cost per forwarded packet beyond an
// addition, and hands the average to its room, which names the loudest speaker.
const (
	// levelWindow is the number of packets an average level is taken over.
	levelWindow = 25
	// speakingLevel is the average level, in -dBov, under which a track is speech.
	speakingLevel = 60
	// levelFresh is how long an average counts for the room.
	levelFresh = 2 * time.Second
	// speakerMargin is how much louder, in dB, a new speaker must be than the current
	// one, still speaking, to take over.
	speakerMargin = 6
)

// speakerDetector names a room's active speaker.
type speakerDetector struct {
	mu      sync.Mutex
	current string // participant id, empty before anyone spoke
	levels  map[*upTrack]trackLevel
}

type trackLevel struct {
	level int
	at    time.Time
}

// update records the average level of up and returns the new active speaker when it
// changes, else "".
func (s *speakerDetector) update(up *upTrack, level int, now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.levels == nil {
		s.levels = make(map[*upTrack]trackLevel)
	}
	s.levels[up] = trackLevel{level: level, at: now}
	best, bestLevel := "", speakingLevel+1
	currentLevel := 128
	for u, l := range s.levels {
		if now.Sub(l.at) > levelFresh || u.muted.Load() || u.isParked() {
			continue
		}
		if u.owner == s.current {
			currentLevel = min(currentLevel, l.level)
		}
		if l.level < bestLevel {
			best, bestLevel = u.owner, l.level
		}
	}
	if best == "" || best == s.current {
		return ""
	}
	if currentLevel <= speakingLevel && bestLevel > currentLevel-speakerMargin {
		return "" // the current speaker still speaks, and not much softer
	}
	s.current = best
	return best
}

// forget drops a track that ended.
func (s *speakerDetector) forget(up *upTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.levels, up)
}

// activeSpeaker is the participant speaking now, or "".
func (s *speakerDetector) activeSpeaker() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// onAudioLevel is called by an audio track of the room with its average level; the
// others hear of a new active speaker.
func (r *Room) onAudioLevel(up *upTrack, level int) {
	if id := r.speakers.update(up, level, r.srv.clock.Now()); id != "" {
		r.broadcast(nil, encode(signal.ActiveSpeakerMessage{Type: signal.TypeActiveSpeaker, ParticipantID: id}))
	}
}
