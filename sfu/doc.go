// Package sfu implements Webinaire's selective forwarding unit: rooms of participants
// that publish and receive audio and video over one Pion PeerConnection each, join
// tokens, and the JSON signalling protocol documented in docs/protocol.md, whose names
// (message types, error and close codes, limits) package sfu/signal declares.
//
// The package imports Pion, the standard library and sfu/signal only. The API package adapts a
// WebSocket to Conn and hands it to Server.ServeConn.
package sfu
