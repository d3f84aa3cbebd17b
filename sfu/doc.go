// Package sfu implements Webinaire's selective forwarding unit: rooms of participants
// that publish and receive audio and video over one Pion PeerConnection each, join
// tokens, and the JSON signalling protocol documented in docs/protocol.md, whose names
// (message types, error and close codes, limits) package sfu/signal declares.
//
// A room holds members (member.go): what it knows of each (id, role, the tracks it
// publishes in a publisher, those it receives in a subscriber) and its session, which
// the room reaches through memberSession. A participant (participant.go) is a member on
// a signalling connection; a WHIP session publishes and a WHEP session receives, each
// negotiated by one HTTP offer and its answer (whip.go); a relay (relay.go) and an edge
// node's mirror of the origin's participants (edge.go) are participants of their mode.
//
// The package imports Pion, the standard library and sfu/signal only. The API package adapts a
// WebSocket to Conn and hands it to Server.ServeConn.
package sfu
