package signal

import "strings"

// KeepReceivers returns the server's offer sdp with its inactive media sections marked
// recvonly, for a receiver built on Pion to apply in their stead.
//
// The server takes an m-line freed by a removed track for a later track of the same
// kind (docs/protocol.md), and between the two the section is inactive when the server
// neither sends nor receives on it, often for several offers. Pion (v4.2) stops the
// transceiver of a section a remote offer marks inactive, every time: the first time,
// the receiver that had the old track is replaced by a fresh one, but the next inactive
// offer stops that fresh one, which nothing replaces, and the track that comes later on
// the m-line never reaches OnTrack (pion/webrtc#2226). A recvonly section leaves the
// transceiver alone, and its answer is the same: a transceiver that sends nothing there
// answers inactive.
func KeepReceivers(sdp string) string {
	if !strings.Contains(sdp, "a=inactive") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	for i, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		if body == "a=inactive" {
			lines[i] = "a=recvonly" + line[len(body):]
		}
	}
	return strings.Join(lines, "")
}
