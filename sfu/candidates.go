package sfu

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/pion/ice/v4"

	"webinaire/sfu/signal"
)

// The client's ICE candidates tell the server where to send datagrams from its media port.
// Each one, trickled or in a description, passes candidateFilter.admit before the ICE agent
// sees it: a UDP candidate (TCP ones are ignored) with an IP address (no host name; mDNS
// names are ignored), that the server's address policy allows (Server.candidates),
// within the ICE session's budget.
// Peer-reflexive candidates are not signalled: they are the source addresses of the
// client's own connectivity checks, which carry its ICE password, and are answered there.

// candidateFilter admits the candidates of one client and counts those of its current ICE
// session. It is owned by the session goroutine.
type candidateFilter struct {
	policy *addrPolicy
	log    *slog.Logger
	// peer is the media address of a relay's edge node: its candidates there are
	// accepted whatever the address class.
	peer netip.Addr

	ufrag    string          // the client's ICE username fragment, from its descriptions
	accepted map[string]bool // transport addresses handed to the ICE agent
	// Logged once per participant's session at info level, whatever the ICE restarts.
	full    bool // the limit was reached
	refused bool // a candidate was refused
}

// restart starts a new ICE session when ufrag is not that of the current one; the first
// description keeps what was trickled before it.
func (b *candidateFilter) restart(ufrag string) {
	if ufrag == "" || ufrag == b.ufrag {
		return
	}
	if b.ufrag != "" {
		b.accepted = nil
	}
	b.ufrag = ufrag
}

// admit tells whether the client's candidate line ("candidate:..." as in
// RTCIceCandidate.candidate) may be handed to the ICE agent, and counts it when it may.
// When not, code and why say why (code empty: ignored without a word, a TCP candidate or
// an mDNS name).
func (b *candidateFilter) admit(line string) (code, why string, ok bool) {
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(line, "candidate:"))
	if err != nil {
		b.logRefusal("unparsable")
		return signal.CodeCandidateRefused, "the candidate cannot be parsed", false
	}
	if c.NetworkType().IsTCP() {
		return "", "", false // the server's media is UDP only: nothing is ever sent there
	}
	if strings.HasSuffix(c.Address(), ".local") {
		return "", "", false // mDNS: not resolved by the server; the client's checks will do
	}
	a, err := netip.ParseAddr(c.Address())
	if err != nil {
		b.logRefusal("hostname")
		return signal.CodeCandidateRefused, "candidates must carry an IP address", false
	}
	ap := netip.AddrPortFrom(a, uint16(c.Port())) //nolint:gosec // parsed as a port
	if class, allowed := b.policy.allow(ap); !allowed && !(b.peer.IsValid() && a.Unmap() == b.peer) {
		b.logRefusal(class.String())
		return signal.CodeCandidateRefused, "the server does not send to " + class.String() + " addresses", false
	}
	key := c.NetworkType().String() + " " + ap.String()
	if b.accepted[key] {
		return "", "", true
	}
	if len(b.accepted) >= maxRemoteCandidates {
		if !b.full {
			b.full = true
			b.log.Info("remote candidates over the limit", "limit", maxRemoteCandidates)
		} else {
			b.log.Debug("remote candidates over the limit", "limit", maxRemoteCandidates)
		}
		return signal.CodeTooManyCandidates, fmt.Sprintf("at most %d candidates per ICE session", maxRemoteCandidates), false
	}
	if b.accepted == nil {
		b.accepted = make(map[string]bool)
	}
	b.accepted[key] = true
	return "", "", true
}

// logRefusal logs the first refused candidate of the session at info level, the others at
// debug level; never the address.
func (b *candidateFilter) logRefusal(reason string) {
	if b.refused {
		b.log.Debug("remote candidate refused", "reason", reason)
		return
	}
	b.refused = true
	b.log.Info("remote candidate refused", "reason", reason)
}

// filterSDP takes out of a client's description the candidates admit refuses, and
// tells the refusals, when tell is not nil, with one call per code; an HTTP session
// (WHIP, WHEP) has no channel for them and is answered without those candidates.
func (b *candidateFilter) filterSDP(desc string, tell func(code, text string)) string {
	lines := strings.SplitAfter(desc, "\n")
	for _, l := range lines {
		if u, ok := strings.CutPrefix(strings.TrimRight(l, "\r\n"), "a=ice-ufrag:"); ok {
			b.restart(u)
			break
		}
	}
	refused := map[string]int{}  // by code
	first := map[string]string{} // the reason of the first one, by code
	kept := lines[:0]
	for _, l := range lines {
		cand, ok := strings.CutPrefix(strings.TrimRight(l, "\r\n"), "a=")
		if !ok || !strings.HasPrefix(cand, "candidate:") {
			kept = append(kept, l)
			continue
		}
		code, text, ok := b.admit(cand)
		if ok {
			kept = append(kept, l)
			continue
		}
		if code != "" && refused[code] == 0 {
			first[code] = text
		}
		refused[code]++
	}
	for _, code := range []string{signal.CodeCandidateRefused, signal.CodeTooManyCandidates} {
		if n := refused[code]; n > 0 && tell != nil {
			tell(code, fmt.Sprintf("%d candidates of the description left out: %s", n, first[code]))
		}
	}
	return strings.Join(kept, "")
}
