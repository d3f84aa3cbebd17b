package sfu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// A relay is the origin's end of an edge node's link (edge.go): a hidden participant of
// the room that receives every layer of every published track as a track of its own
// (a separate SSRC per simulcast layer), and every message an attendee gets. It is
// negotiated as a participant is (docs/protocol.md), the server offering each change,
// over a connection the caller authenticated as coming from a node of the cluster.
// Its NACKs are answered from the layers' caches and its keyframe requests reach the
// publishers paced, as any subscriber's. Nobody in the room sees it: it is in no
// participant list, takes no seat and cannot be moderated.

// relaySendQueueLen bounds the messages waiting to go down a relay's link: the room's
// messages to every viewer of the edge node, and what is for one of them alone.
const relaySendQueueLen = 16384

// MaxRelayMessageSize bounds a message on an edge's link, in bytes: its descriptions
// carry an m-line per relayed layer, about a kilobyte each, far more than a client's.
const MaxRelayMessageSize = 1 << 20

// messageLimit is the largest message the participant's connection takes.
func (p *participant) messageLimit() int {
	if p.mode == modeRelay {
		return MaxRelayMessageSize
	}
	return signal.MaxMessageSize
}

// relayIDPrefix starts the participant id of a relay; "~" is outside the alphabet of
// the ids of tokens, so that no participant can take it.
const relayIDPrefix = "relay~"

// relayMessages are the messages a relay may send: negotiation, and relay messages.
var relayMessages = map[string]bool{
	signal.TypeOffer:      true,
	signal.TypeAnswer:     true,
	signal.TypeCandidate:  true,
	signal.TypeRestartICE: true,
	signal.TypeLeave:      true,
	signal.TypeRelay:      true,
}

// relaySpoken are the messages of an edge viewer that its edge passes to the origin.
var relaySpoken = map[string]bool{
	signal.TypeChat:     true,
	signal.TypeHand:     true,
	signal.TypeReaction: true,
	signal.TypeVote:     true,
}

// onRelay acts on a relay message of the relay p, on the origin: an edge viewer becomes
// a participant of the room without a connection here (modeRemote, via p), leaves it, or
// speaks as that participant.
func (p *participant) onRelay(m signal.ClientMessage) {
	r := p.room
	switch m.Action {
	case signal.RelayEnter:
		v := newParticipant(p.srv, nil, Claims{Room: r.id, Participant: m.ParticipantID, Name: m.Name, Role: RoleAttendee, Kind: r.kind, Invitation: m.Invitation})
		v.mode, v.room, v.via = modeRemote, r, p
		if _, err := r.addRemote(v.member); errors.Is(err, ErrRoomLocked) {
			p.sendRaw(encode(signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelayEnd, ParticipantID: v.id, Code: signal.CodeRoomLocked}))
		}
	case signal.RelayLeave:
		if v := r.viaOf(p, m.ParticipantID); v != nil {
			r.leave(v)
		}
	case signal.RelaySpeak:
		v := r.viaOf(p, m.ParticipantID)
		said, err := signal.DecodeClient(m.Message)
		if v == nil || err != nil || !relaySpoken[said.Type] {
			return
		}
		switch said.Type {
		case signal.TypeChat:
			r.chat(v, said.Text, said.To)
		case signal.TypeHand:
			r.raiseHand(v, *said.Raised)
		case signal.TypeReaction:
			r.react(v, said.Emoji)
		case signal.TypeVote:
			r.vote(v, said.PollID, said.Choices)
		}
	}
}

// moveToOrigin gives p, a viewer of an edge node, a role that speaks: the role is kept
// in the room and recorded for every node, then p's edge ends its session with
// room_moved, and it comes back here through rejoin. Without a way to record the role
// (no RoleRecorder), p stays where it is: ErrWatchesElsewhere.
func (r *Room) moveToOrigin(p *member, role Role) error {
	if !r.srv.recordRole(r.id, p.id, role) {
		return ErrWatchesElsewhere
	}
	r.mu.Lock()
	r.roles[p.id] = role
	r.mu.Unlock()
	r.log.Info("edge viewer given a role that speaks: sent here", "participant", p.id, "role", role)
	p.session.end(endCause{err: ErrRoomMoved, code: signal.CloseRoomMoved, reason: "come to the room's node to speak", errCode: signal.CodeRoomMoved})
	return nil
}

// viaOf is the participant id of the room that the relay via brought in, nil if none.
func (r *Room) viaOf(via *participant, id string) *member {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.participants[id]; v != nil && v.via == via {
		return v
	}
	return nil
}

// addRemote puts v, a participant connected to another node, in the room and tells the
// others, and tells whether it did. A participant already there with its id stays, but
// for a viewer of an edge node that linked again (v replaces the one its former link
// brought). A locked room takes no viewer of an edge node new to it (ErrRoomLocked).
func (r *Room) addRemote(v *member) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, ErrRoomClosed
	}
	if old := r.participants[v.id]; old != nil {
		if v.via == nil || old.via == nil || old.via == v.via {
			return false, nil
		}
		v.role = old.role
		r.participants[v.id] = v
		return true, nil
	}
	if v.via != nil && r.collab.locked && !r.seen[v.id] {
		return false, ErrRoomLocked
	}
	v.role = v.claims.Role
	if role, ok := r.roles[v.id]; ok {
		v.role = role
	}
	r.participants[v.id] = v
	r.seen[v.id] = true
	r.memberJoinedLocked(v)
	return true, nil
}

// dropVia takes out of the room the participants the relay via brought in: its link
// has ended.
func (r *Room) dropVia(via *participant) {
	r.mu.Lock()
	var gone []*member
	for _, v := range r.participants {
		if v.via == via {
			gone = append(gone, v)
		}
	}
	r.mu.Unlock()
	for _, v := range gone {
		r.leave(v)
	}
}

// RelayParams describe an edge node's link to a room of this node.
type RelayParams struct {
	// Room and Kind are the room's id and kind (a room not open yet opens with it).
	Room string
	Kind RoomKind
	// Edge is the edge node's id.
	Edge string
	// EdgeAddr is the edge node's media address: its candidates there are accepted
	// whatever the address's class (a cluster's nodes often talk over private
	// addresses). Invalid: the candidates policy alone decides.
	EdgeAddr netip.Addr
}

// ServeRelay runs an edge node's link on conn until it ends, as ServeConn runs a
// participant; conn's peer must have been authenticated as a node of the cluster by the
// caller. The first message is the edge's offer, there is no join.
func (s *Server) ServeRelay(ctx context.Context, conn Conn, rp RelayParams) error {
	if !signal.ValidID(rp.Room) || !signal.ValidID(rp.Edge) {
		_ = conn.Close(signal.ClosePolicyViolation, "bad relay")
		return fmt.Errorf("serve relay: %w", ErrTokenInvalid)
	}
	return s.session(ctx, conn, func(ctx context.Context, api *webrtc.API) error {
		kind := rp.Kind
		if kind == "" {
			kind = KindWebinar
		}
		now := s.clock.Now()
		p := newParticipant(s, conn, Claims{
			Room:        rp.Room,
			Participant: relayIDPrefix + rp.Edge,
			Role:        RoleAttendee,
			Kind:        kind,
			IssuedAt:    now,
			Expiry:      now.Add(MaxTokenLifetime),
		})
		p.mode = modeRelay
		p.out = make(chan []byte, relaySendQueueLen)
		p.cands.peer = rp.EdgeAddr.Unmap()
		p.sub.relayed = make(map[*layer]*downTrack)
		err := p.serve(ctx, api)
		if p.room != nil {
			p.room.dropVia(p)
		}
		return err
	})
}

// isRelayID tells whether a participant id is a relay's.
func isRelayID(id string) bool { return strings.HasPrefix(id, relayIDPrefix) }

// relayLayers makes the relay receive each layer of up it does not receive yet, pinned
// to that layer, at the next negotiation.
func (sb *subscriber) relayLayers(up *upTrack) {
	var added []*downTrack
	for _, l := range up.layerList() {
		sb.mu.Lock()
		if sb.closed || sb.relayed[l] != nil {
			sb.mu.Unlock()
			continue
		}
		d := newDownTrack(up, sb)
		d.pinned, d.rid = l, l.rid
		sb.relayed[l] = d
		sb.pendingAdd = append(sb.pendingAdd, d)
		sb.mu.Unlock()
		if !up.addDown(d) {
			sb.dropDown(d)
			continue
		}
		added = append(added, d)
	}
	for _, d := range added {
		up.setTarget(d, d.pinned)
	}
	if len(added) > 0 {
		sb.renegotiate()
	}
}

// relayMACContext separates the MAC of relay tokens from that of join tokens: a join
// token is never a relay token, nor the other way round.
const relayMACContext = "webinaire-relay-v1."

// MaxRelayTokenLifetime bounds a relay token's validity: it is made for one dial.
const MaxRelayTokenLifetime = 2 * time.Minute

// RelayClaims are what a relay token grants: the edge node Edge may link to room Room,
// of kind Kind, on node Origin at the room's epoch Epoch, until Expiry. The nodes of a
// cluster share the token key: a node signs the token it dials another with.
type RelayClaims struct {
	Room   string   `json:"room"`
	Kind   RoomKind `json:"kind"`
	Origin string   `json:"origin"`
	Edge   string   `json:"edge"`
	Epoch  int64    `json:"epoch"`
	Expiry int64    `json:"exp"` // Unix seconds
	// Nonce makes each token unique: it is good for one dial (TokenSigner.Spend).
	Nonce string `json:"nonce"`
}

// SignRelay returns the relay token for c, valid until expiry, once: a nonce of its own
// is added when c has none.
func (s *TokenSigner) SignRelay(c RelayClaims) (string, error) {
	if !signal.ValidID(c.Room) || !signal.ValidID(c.Origin) || !signal.ValidID(c.Edge) || c.Epoch < 0 || !c.Kind.Valid() {
		return "", fmt.Errorf("relay claims: %w", ErrTokenInvalid)
	}
	if c.Nonce == "" {
		c.Nonce = rand.Text()
	}
	return s.SignFor(relayMACContext, c)
}

// VerifyRelay checks a relay token at now, and spends it, and returns its claims:
// ErrTokenInvalid, ErrTokenExpired or ErrTokenUsed (presented before) otherwise.
func (s *TokenSigner) VerifyRelay(token string, now time.Time) (RelayClaims, error) {
	var c RelayClaims
	if err := s.VerifyFor(relayMACContext, token, &c); err != nil {
		return RelayClaims{}, err
	}
	if !signal.ValidID(c.Room) || !signal.ValidID(c.Origin) || !signal.ValidID(c.Edge) || !c.Kind.Valid() || c.Nonce == "" {
		return RelayClaims{}, fmt.Errorf("relay token claims: %w", ErrTokenInvalid)
	}
	if err := checkExpiry(c.Expiry, now, MaxRelayTokenLifetime); err != nil {
		return RelayClaims{}, err
	}
	return c, s.Spend(token, time.Unix(c.Expiry, 0), now)
}

// checkExpiry checks the expiry, in Unix seconds, of a token made for one call: not
// past at now, and at most lifetime away.
func checkExpiry(expiry int64, now time.Time, lifetime time.Duration) error {
	switch {
	case now.Unix() >= expiry:
		return ErrTokenExpired
	case expiry > now.Add(lifetime).Unix()+1:
		return fmt.Errorf("token lifetime: %w", ErrTokenInvalid)
	}
	return nil
}

// SignFor signs v, as JSON, for one use between the nodes of a cluster, named by
// purpose: the MAC is keyed for that purpose, so that a token of one purpose is never
// valid for another, nor as a join token. v should hold a nonce, so that its receiver
// can refuse it presented twice (Spend).
func (s *TokenSigner) SignFor(purpose string, v any) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s token: %w", purpose, err)
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.macIn(purpose, payload)), nil
}

// VerifyFor checks the MAC of a token of purpose and decodes its claims into v, refusing
// unknown fields; the caller checks the claims themselves. Its errors wrap
// ErrTokenInvalid.
func (s *TokenSigner) VerifyFor(purpose, token string, v any) error {
	payload, sig, ok := strings.Cut(token, ".")
	if len(token) > signal.MaxTokenSize || !ok || payload == "" || sig == "" {
		return fmt.Errorf("%s token form: %w", purpose, ErrTokenInvalid)
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.macIn(purpose, payload)) {
		return fmt.Errorf("%s token signature: %w", purpose, ErrTokenInvalid)
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return fmt.Errorf("%s token payload: %w", purpose, ErrTokenInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s token claims: %w", purpose, ErrTokenInvalid)
	}
	return nil
}
