package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// WebRTCConfig configures the media transport of a Server.
type WebRTCConfig struct {
	// UDPPort is the one UDP port all media goes through, on every local address
	// (ICE UDP mux); 0 picks a free port per address, for tests.
	UDPPort int
	// NAT1To1IPs are public addresses that map one to one onto this host's (a cloud VM
	// behind NAT); when set, host candidates carry them instead of the local addresses.
	NAT1To1IPs []string
	// IncludeLoopback offers loopback candidates (127.0.0.1, ::1), and accepts the
	// client's candidates on loopback and on this host's own addresses: for tests and
	// local development only, with the browser on the same machine.
	IncludeLoopback bool
	// AllowPrivateCandidates accepts the client's candidates on private addresses
	// (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): an intranet deployment. Off,
	// the server sends to public addresses only.
	AllowPrivateCandidates bool
	// Relays, when set, tells whether an address of this host is one of a TURN relay
	// beside the server (TURN.IsRelay): a relayed client's candidates carry it.
	Relays func(netip.AddrPort) bool
	// ICEServers are given to every client in the joined message. Empty by default: no
	// public STUN server is ever contacted or handed out.
	ICEServers []ICEServer
	// ICEServersFor, when set, gives the ICE servers of one participant, added to
	// ICEServers in its joined message: TURN credentials of its own, valid until expiry
	// (its token's). It is called at every join, before the room is locked.
	ICEServersFor func(participantID string, expiry time.Time) []ICEServer
	// ThroughPion sends forwarded media through Pion's SRTP session and ICE connection,
	// as every PeerConnection's own. Off (the default), the server encrypts what it
	// forwards with SRTP contexts of its own and writes it to its media sockets itself
	// (direct.go), and answers offers as the DTLS server.
	ThroughPion bool
}

// videoFeedback is the RTCP feedback offered with every video codec; NACK, PLI and
// transport-cc are added by the interceptor configuration.
var videoFeedback = []webrtc.RTCPFeedback{{Type: "ccm", Parameter: "fir"}}

// codecs are the codecs the server receives and sends, with fixed payload types.
// Publishers' offers are answered with the subset they support; a subscriber gets the
// codec its publisher uses.
func codecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: videoFeedback}, PayloadType: 98},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: videoFeedback}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFeedback}, PayloadType: 108},
	}
}

// mediaAPI makes the Pion APIs the server's PeerConnections are made with.
type mediaAPI struct {
	media        *webrtc.MediaEngine
	interceptors *interceptor.Registry
	settings     webrtc.SettingEngine
	// api is the API of the PeerConnections that send nothing directly.
	api *webrtc.API
}

// direct is the API of one PeerConnection whose RTP d sends: its DTLS handshake tells
// d its keys.
func (a *mediaAPI) direct(d *directSender) *webrtc.API {
	se := a.settings
	d.settings(&se)
	return webrtc.NewAPI(webrtc.WithMediaEngine(a.media), webrtc.WithInterceptorRegistry(a.interceptors), webrtc.WithSettingEngine(se))
}

// newMediaAPI builds the Pion APIs of the server's PeerConnections: the codecs above,
// the audio-level header extension, NACKs and receiver reports for what is received,
// transport-wide congestion control feedback, all media on mux, no mDNS, and Pion's own
// logs sent to log at debug level.
func newMediaAPI(cfg WebRTCConfig, mux ice.UDPMux, log *slog.Logger) (*mediaAPI, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range codecs() {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			return nil, fmt.Errorf("register codec %s: %w", c.MimeType, err)
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register audio level extension: %w", err)
	}

	// Interceptors on the received tracks only: NACKs, receiver reports and transport-wide
	// congestion control feedback for the publishers, started in a PeerConnection once it
	// receives a track (onReceive). What is sent is answered and reported by the SFU
	// itself (reports.go): Pion's NACK responder would copy every packet for every
	// subscriber, and its sender reports take a lock per packet.
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	nackGenerator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("nack generator: %w", err)
	}
	receiverReports, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("receiver reports: %w", err)
	}
	// webrtc.ConfigureTWCCSender, with the interceptor in the chain above.
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return nil, fmt.Errorf("register transport-cc extension: %w", err)
		}
	}
	twccFeedback, err := twcc.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("twcc feedback: %w", err)
	}
	ir := &interceptor.Registry{}
	ir.Add(onReceive{nackGenerator, receiverReports, twccFeedback})
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("configure simulcast extensions: %w", err)
	}

	se := webrtc.SettingEngine{LoggerFactory: pionLoggerFactory{log: log}}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(cfg.NAT1To1IPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("nat 1:1 addresses: %w", err)
		}
	}
	if !cfg.ThroughPion {
		// The keys of direct sending come from the DTLS server's side.
		if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
			return nil, fmt.Errorf("answering dtls role: %w", err)
		}
	}
	return &mediaAPI{
		media:        m,
		interceptors: ir,
		settings:     se,
		api:          webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)),
	}, nil
}

// pionLoggerFactory sends Pion's logs to slog at debug level: they may carry network
// addresses, which only the connection log may hold, so they stay out of ordinary logs.
type pionLoggerFactory struct{ log *slog.Logger }

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log, scope: scope}
}

type pionLogger struct {
	log   *slog.Logger
	scope string
}

func (l pionLogger) out(level, text string) {
	l.log.Debug("pion", "scope", l.scope, "level", level, "text", text)
}

// outf formats only when debug logs are kept: Pion logs on busy paths.
func (l pionLogger) outf(level, format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.out(level, fmt.Sprintf(format, args...))
	}
}

// Pion's trace and debug messages are dropped: besides their volume, some of them format
// Pion objects that Pion is changing at the same time (a data race the race detector sees
// in peerconnection.go when they are formatted).
func (l pionLogger) Trace(msg string)                  {}
func (l pionLogger) Tracef(format string, args ...any) {}
func (l pionLogger) Debug(msg string)                  {}
func (l pionLogger) Debugf(format string, args ...any) {}
func (l pionLogger) Info(msg string)                   { l.out("info", msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.outf("info", format, args...) }
func (l pionLogger) Warn(msg string)                   { l.out("warn", msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.outf("warn", format, args...) }
func (l pionLogger) Error(msg string)                  { l.out("error", msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.outf("error", format, args...) }
