package sfu

import (
	"time"

	"webinaire/sfu/signal"
)

// Per-participant limits of the messages that change what the others see. They come on
// top of the connection's limit (signal.MessageRate, signal.MessageBurst), which every
// message counts against; a message over its kind's limit is dropped and the client is
// told once with rate_limited.
const (
	// StateRate and StateBurst limit hand and mute messages.
	StateRate  = 2.0 // per second
	StateBurst = 10
	// PollRate and PollBurst limit votes and a moderator's poll actions.
	PollRate  = 2.0 // per second
	PollBurst = 10
	// ModerationRate and ModerationBurst limit a moderator's actions on the others.
	ModerationRate  = 5.0 // per second
	ModerationBurst = 20
)

// messageClass is a group of client message types that share a rate limit.
type messageClass int

const (
	// classSignalling is negotiation and leaving: the connection's limit only, since
	// candidates come in bursts and nothing of them reaches the others.
	classSignalling messageClass = iota
	classChat
	classCaption
	classSlides
	classState
	classPoll
	classModeration
	numClasses
)

// messageClasses gives the class of every message type a client may send. A type not
// in it counts as classState, the strictest that is not chat.
var messageClasses = map[string]messageClass{
	signal.TypeJoin:       classSignalling,
	signal.TypeOffer:      classSignalling,
	signal.TypeAnswer:     classSignalling,
	signal.TypeCandidate:  classSignalling,
	signal.TypeLayer:      classSignalling,
	signal.TypeRestartICE: classSignalling,
	signal.TypeLeave:      classSignalling,
	// An edge node's relay messages carry its viewers' messages, each limited there.
	signal.TypeRelay:           classSignalling,
	signal.TypeChat:            classChat,
	signal.TypeReaction:        classChat,
	signal.TypeCaption:         classCaption,
	signal.TypeSlidePage:       classSlides,
	signal.TypeSlidesClose:     classSlides,
	signal.TypeSlidePointer:    classSlides,
	signal.TypeHand:            classState,
	signal.TypeMute:            classState,
	signal.TypePollCreate:      classPoll,
	signal.TypePollOpen:        classPoll,
	signal.TypePollClose:       classPoll,
	signal.TypePollPublish:     classPoll,
	signal.TypeVote:            classPoll,
	signal.TypeMuteParticipant: classModeration,
	signal.TypeAskUnmute:       classModeration,
	signal.TypeRemove:          classModeration,
	signal.TypeSetRole:         classModeration,
	signal.TypeLowerHand:       classModeration,
	signal.TypeLock:            classModeration,
	signal.TypeSpotlight:       classModeration,
	signal.TypeEndSession:      classModeration,
	signal.TypeLobbyAdmit:      classModeration,
	signal.TypeLobbyDeny:       classModeration,
	// Moving is a new connection: as rare as moderation.
	signal.TypeBreakoutStart:     classModeration,
	signal.TypeBreakoutAssign:    classModeration,
	signal.TypeBreakoutBroadcast: classChat,
	signal.TypeBreakoutEnd:       classModeration,
	signal.TypeBreakoutJoin:      classModeration,
	signal.TypeBreakoutHelp:      classState,
}

// classLimits are the rate (per second) and burst of each class; a zero rate is no
// limit of its own.
var classLimits = [numClasses]struct{ rate, burst float64 }{
	classChat:       {ChatRate, ChatBurst},
	classCaption:    {CaptionRate, CaptionBurst},
	classSlides:     {SlidesRate, SlidesBurst},
	classState:      {StateRate, StateBurst},
	classPoll:       {PollRate, PollBurst},
	classModeration: {ModerationRate, ModerationBurst},
}

// messageLimiter applies the limits of each message class to one participant. It is
// owned by the session goroutine.
type messageLimiter struct {
	buckets [numClasses]*tokenBucket
	// told is set once the client has been told that messages of a class are dropped,
	// until one goes through again.
	told [numClasses]bool
}

func newMessageLimiter(now time.Time) *messageLimiter {
	l := &messageLimiter{}
	for c, lim := range classLimits {
		if lim.rate > 0 {
			l.buckets[c] = newTokenBucket(lim.rate, lim.burst, now)
		}
	}
	return l
}

// allow tells whether a message of type typ may go through at now, and, when not,
// whether the client should be told.
func (l *messageLimiter) allow(typ string, now time.Time) (ok, tell bool) {
	c, known := messageClasses[typ]
	if !known {
		c = classState
	}
	b := l.buckets[c]
	if b == nil || b.allow(now) {
		l.told[c] = false
		return true, false
	}
	tell = !l.told[c]
	l.told[c] = true
	return false, tell
}
