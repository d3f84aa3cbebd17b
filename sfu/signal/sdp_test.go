package signal

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeepReceivers(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			"inactive sections become recvonly, the others stay",
			"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=inactive\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=inactive\r\n",
			"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\n",
		},
		{
			"line feeds alone, and a last line without one",
			"v=0\na=inactive\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=inactive",
			"v=0\na=recvonly\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=recvonly",
		},
		{
			"other attributes that say inactive stay",
			"v=0\r\na=x-inactive\r\na=inactive:1\r\na=fmtp:96 a=inactive\r\n",
			"v=0\r\na=x-inactive\r\na=inactive:1\r\na=fmtp:96 a=inactive\r\n",
		},
		{"nothing inactive", "v=0\r\na=sendrecv\r\n", "v=0\r\na=sendrecv\r\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, KeepReceivers(tt.in))
		})
	}
}
