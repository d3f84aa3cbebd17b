package sfu

import (
	"fmt"
	"slices"
	"strconv"

	"webinaire/sfu/signal"
)

// In-meeting collaboration: chat, polls, raised hands and reactions. All of it lives in
// the room's memory, under Room.mu, and nowhere else: not in a database, a file, a log
// line or a metric. When the room closes it is dropped; RoomStats keeps only counts.
// The sender of a message or a vote is always the connection's participant, never a
// field of the message.

// Limits of collaboration messages.
const (
	// MaxChatHistory is the number of messages a room keeps for those who join later.
	MaxChatHistory = 500
	// ChatRate and ChatBurst limit chat messages and reactions per participant.
	ChatRate  = 1.0 // per second
	ChatBurst = 5
	// MaxPolls is the number of polls a room may hold.
	MaxPolls = 50
)

// RoomStats is what remains of a room's collaboration once it has closed: counts only.
type RoomStats struct {
	// Room is the room id.
	Room string
	// Messages, Polls and Votes are how many chat messages were sent, polls created and
	// votes cast (a changed vote counts once).
	Messages, Polls, Votes int
	// Captions is how many captions were posted.
	Captions int
}

// poll is a poll of the room.
type poll struct {
	id        string
	question  string
	options   []string
	multiple  bool
	anonymous bool
	state     string // draft, open, closed
	published bool
	votes     map[string][]int // participant id to option indexes
	names     map[string]string
}

// collab is the collaboration state of a room, guarded by Room.mu.
type collab struct {
	chat   []signal.ChatMessage
	nextID int
	polls  []*poll
	hands  []string // participant ids, in the order hands went up
	locked bool
	// spotlight is the participant a moderator shows large to everyone, or empty.
	spotlight string
	// captions are the last captions, for those who join; captionID numbers them.
	captions  []signal.CaptionMessage
	captionID int
	stats     RoomStats
}

// keepLast drops the first elements of s beyond its last n.
func keepLast[T any](s []T, n int) []T {
	if len(s) > n {
		return slices.Delete(s, 0, len(s)-n)
	}
	return s
}

// chatVisibleTo tells whether a chat message goes to p; room.mu held.
func chatVisibleTo(e signal.ChatMessage, p *member) bool {
	return e.To == "" || e.From == p.id || p.role == RoleModerator
}

// chatHistoryLocked is the chat p may read.
func (r *Room) chatHistoryLocked(p *member) []signal.ChatMessage {
	out := []signal.ChatMessage{}
	for _, e := range r.collab.chat {
		if chatVisibleTo(e, p) {
			out = append(out, e)
		}
	}
	return out
}

func (r *Room) isModeratorLocked(p *member) bool {
	return r.participants[p.id] == p && p.role == RoleModerator
}

// chat posts a message of p to the room, or to the moderators.
func (r *Room) chat(p *member, text, to string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.participants[p.id] != p {
		return
	}
	r.collab.nextID++
	e := signal.ChatMessage{Type: signal.TypeChat, ID: r.collab.nextID, From: p.id, FromName: p.claims.Name, Text: text, To: to, SentAt: r.srv.clock.Now().UTC()}
	r.collab.chat = keepLast(append(r.collab.chat, e), MaxChatHistory)
	r.collab.stats.Messages++
	msg := encode(e)
	for _, o := range r.participants {
		if chatVisibleTo(e, o) {
			o.session.sendRaw(msg)
		}
	}
	if p.via != nil && e.To != "" {
		// A viewer of an edge node writing to the moderators: its own copy, which the
		// relay, an attendee, does not get.
		p.sendOwn(msg)
	}
}

// react sends a reaction of p to everyone.
func (r *Room) react(p *member, emoji string) {
	r.broadcast(nil, encode(signal.ReactionMessage{Type: signal.TypeReaction, ParticipantID: p.id, Emoji: emoji}))
}

// raiseHand puts p's hand up or down; everyone gets the queue.
func (r *Room) raiseHand(p *member, raised bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.participants[p.id] != p {
		return
	}
	r.setHandLocked(p.id, raised)
}

func (r *Room) setHandLocked(id string, raised bool) {
	i := slices.Index(r.collab.hands, id)
	switch {
	case raised && i < 0:
		r.collab.hands = append(r.collab.hands, id)
	case !raised && i >= 0:
		r.collab.hands = slices.Delete(r.collab.hands, i, i+1)
	default:
		return
	}
	r.handsChangedLocked()
}

// pollFor describes a poll to p; room.mu held.
func (r *Room) pollForLocked(pl *poll, p *member) signal.PollMessage {
	m := signal.PollMessage{
		Type: signal.TypePoll, ID: pl.id, Question: pl.question, Options: pl.options,
		Multiple: pl.multiple, Anonymous: pl.anonymous, State: pl.state, Published: pl.published,
		MyVote: pl.votes[p.id], Voted: len(pl.votes),
	}
	mod := p.role == RoleModerator
	if mod || pl.published {
		m.Results = make([]int, len(pl.options))
		for _, choices := range pl.votes {
			for _, c := range choices {
				m.Results[c]++
			}
		}
	}
	if mod && !pl.anonymous {
		m.Voters = map[string][]string{}
		for id, choices := range pl.votes {
			for _, c := range choices {
				k := strconv.Itoa(c)
				m.Voters[k] = append(m.Voters[k], pl.names[id])
			}
		}
		for _, names := range m.Voters {
			slices.Sort(names)
		}
	}
	return m
}

// sendPollLocked tells everyone who may see the poll: moderators always, the others
// once it is open.
func (r *Room) sendPollLocked(pl *poll) {
	for _, o := range r.participants {
		if o.role == RoleModerator || pl.state != signal.PollDraft {
			o.session.sendRaw(encode(r.pollForLocked(pl, o)))
		}
	}
}

func (r *Room) findPollLocked(id string) *poll {
	for _, pl := range r.collab.polls {
		if pl.id == id {
			return pl
		}
	}
	return nil
}

// pollAction is what a moderator does to a poll.
func (r *Room) pollAction(p *member, m signal.ClientMessage) (code, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isModeratorLocked(p) {
		return signal.CodeForbidden, "only a moderator may do this"
	}
	if m.Type == signal.TypePollCreate {
		if len(r.collab.polls) >= MaxPolls {
			return signal.CodeLimit, fmt.Sprintf("a room holds at most %d polls", MaxPolls)
		}
		pl := &poll{
			id: "poll-" + strconv.Itoa(len(r.collab.polls)+1), question: m.Question, options: m.Options,
			multiple: m.Multiple, anonymous: m.Anonymous, state: signal.PollDraft,
			votes: map[string][]int{}, names: map[string]string{},
		}
		r.collab.polls = append(r.collab.polls, pl)
		r.collab.stats.Polls++
		r.sendPollLocked(pl)
		return "", ""
	}
	pl := r.findPollLocked(m.PollID)
	if pl == nil {
		return signal.CodeUnknownPoll, "no such poll"
	}
	switch m.Type {
	case signal.TypePollOpen:
		if pl.state != signal.PollDraft {
			return signal.CodePollState, "only a draft poll can be opened"
		}
		pl.state = signal.PollOpen
	case signal.TypePollClose:
		if pl.state != signal.PollOpen {
			return signal.CodePollState, "only an open poll can be closed"
		}
		pl.state = signal.PollClosed
	case signal.TypePollPublish:
		if pl.state == signal.PollDraft {
			return signal.CodePollState, "a draft poll has no results"
		}
		pl.published = true
	}
	r.sendPollLocked(pl)
	return "", ""
}

// vote records p's vote, replacing its earlier one.
func (r *Room) vote(p *member, pollID string, choices []int) (code, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.participants[p.id] != p {
		return signal.CodeForbidden, "not in the room"
	}
	pl := r.findPollLocked(pollID)
	if pl == nil || pl.state == signal.PollDraft {
		return signal.CodeUnknownPoll, "no such poll"
	}
	if pl.state != signal.PollOpen {
		return signal.CodePollState, "the poll is closed"
	}
	if !pl.multiple && len(choices) != 1 {
		return signal.CodeMalformed, "this poll takes one choice"
	}
	seen := map[int]bool{}
	for _, c := range choices {
		if c < 0 || c >= len(pl.options) || seen[c] {
			return signal.CodeMalformed, "bad choice"
		}
		seen[c] = true
	}
	if _, again := pl.votes[p.id]; !again {
		r.collab.stats.Votes++
	}
	pl.votes[p.id] = slices.Sorted(func(yield func(int) bool) {
		for c := range seen {
			if !yield(c) {
				return
			}
		}
	})
	pl.names[p.id] = p.claims.Name
	p.sendOwn(encode(r.pollForLocked(pl, p)))
	for _, o := range r.participants {
		if o != p && o.role == RoleModerator {
			o.session.sendRaw(encode(r.pollForLocked(pl, o)))
		}
	}
	return "", ""
}

// collabStateLocked is what a participant joining gets besides the participants: the
// chat it may read, the polls it may see, the hands up and whether the room is locked.
func (r *Room) collabStateLocked(p *member) (chat []signal.ChatMessage, polls []signal.PollMessage, hands []string) {
	chat = r.chatHistoryLocked(p)
	polls = []signal.PollMessage{}
	for _, pl := range r.collab.polls {
		if p.role == RoleModerator || pl.state != signal.PollDraft {
			polls = append(polls, r.pollForLocked(pl, p))
		}
	}
	polls = append(polls, r.edgePolls...) // an edge room's: the origin's, as an attendee sees them
	return chat, polls, slices.Clone(r.collab.hands)
}
