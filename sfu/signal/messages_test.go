package signal

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// messageFields reads the structs of messages.go that are messages (they have a "type"
// field): struct name to JSON name to the Go type as written, without pointers.
func messageFields(t *testing.T) map[string]map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "messages.go", nil, 0)
	require.NoError(t, err)
	out := map[string]map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := spec.Type.(*ast.StructType)
		if !ok {
			return false
		}
		fields := map[string]string{}
		for _, field := range st.Fields.List {
			if field.Tag == nil {
				continue
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			require.NoError(t, err)
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			typ := strings.TrimPrefix(types.ExprString(field.Type), "*")
			fields[name] = typ
		}
		if fields["type"] == "string" {
			out[spec.Name.Name] = fields
		}
		return false
	})
	require.Contains(t, out, "JoinedMessage", "the messages are read")
	require.Contains(t, out, "ServerMessage", "the union is read")
	return out
}

// TestServerMessageHoldsEvery keeps ServerMessage the union of the server's messages:
// every field of every message has its field there, of the same type, and the union has
// no field that no message has.
func TestServerMessageHoldsEvery(t *testing.T) {
	msgs := messageFields(t)
	union := msgs["ServerMessage"]
	delete(msgs, "ServerMessage")
	require.Greater(t, len(msgs), 25, "the server's messages are read")
	used := map[string]bool{}
	for msg, fields := range msgs {
		for name, typ := range fields {
			used[name] = true
			if msg == "RelayMessage" && name == "message" {
				continue // in Relayed, see UnmarshalJSON
			}
			require.Contains(t, union, name, "ServerMessage has no field %q of %s", name, msg)
			require.Equal(t, typ, union[name], "the field %q of %s and of ServerMessage", name, msg)
		}
	}
	for name := range union {
		require.True(t, used[name], "ServerMessage has a field %q that no message has", name)
	}
}

func TestServerMessageReadsErrorsAndRelays(t *testing.T) {
	var m ServerMessage
	b, err := json.Marshal(ErrorMessage{Type: TypeError, Code: CodeRoomFull, Message: "the room is full"})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, CodeRoomFull, m.Code)
	require.Equal(t, "the room is full", m.Message)
	require.Nil(t, m.Relayed)

	said := json.RawMessage(`{"type":"chat","text":"hi"}`)
	b, err = json.Marshal(RelayMessage{Type: TypeRelay, Action: RelayDeliver, ParticipantID: "v1", Message: said})
	require.NoError(t, err)
	m = ServerMessage{}
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, RelayDeliver, m.Action)
	require.Equal(t, "v1", m.ParticipantID)
	require.JSONEq(t, string(said), string(m.Relayed))
	require.Empty(t, m.Message)

	require.Error(t, json.Unmarshal([]byte(`{"type":"error","message":7}`), &m), "a message that is not text")
}

// A joined message reads back whole: ServerMessage's fields are those of the message.
func TestServerMessageReadsJoined(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sent := JoinedMessage{
		Type: TypeJoined, ParticipantID: "p1", Name: "Ada", RoomID: "r1", RoomKind: KindWebinar, Role: RolePresenter,
		Participants:  []ParticipantInfo{{ID: "p2", Name: "Bob", Role: RoleAttendee, Tracks: []TrackInfo{{ID: "p2~1", StreamID: "p2~user", Kind: "audio", Label: LabelMicrophone}}}},
		ICEServers:    []ICEServer{{URLs: []string{"turn:example.org"}, Username: "u", Credential: "c"}},
		ActiveSpeaker: "p2", Hands: []string{"p2"}, Locked: true, Spotlight: "p2", Recording: true, Broadcasting: true,
		Chat:         []ChatMessage{{Type: TypeChat, ID: 1, From: "p2", FromName: "Bob", Text: "hi", SentAt: at}},
		Polls:        []PollMessage{{Type: TypePoll, ID: "q1", Question: "?", Options: []string{"a", "b"}, State: PollOpen, Voted: 1}},
		Captions:     []CaptionMessage{{Type: TypeCaption, ID: 1, Text: "bonjour", Lang: "fr", At: at}},
		Slides:       SlidesMessage{Type: TypeSlides, SlidesID: "s1", Pages: 3, Page: 2, Presenter: "p1"},
		SessionToken: "tok",
	}
	b, err := json.Marshal(sent)
	require.NoError(t, err)
	var m ServerMessage
	require.NoError(t, json.Unmarshal(b, &m))
	got := JoinedMessage{
		Type: m.Type, ParticipantID: m.ParticipantID, Name: m.Name, RoomID: m.RoomID, RoomKind: m.RoomKind, Role: m.Role,
		Participants: m.Participants, ICEServers: m.ICEServers, ActiveSpeaker: m.ActiveSpeaker, Hands: m.Hands,
		Locked: m.Locked, Spotlight: m.Spotlight, Recording: m.Recording, Broadcasting: m.Broadcasting,
		Chat: m.Chat, Polls: m.Polls, Captions: m.Captions, Slides: m.Slides, SessionToken: m.SessionToken,
	}
	require.Equal(t, sent, got)
}
