package api

import (
	"cmp"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"
)

// Defaults of Params.JoinsPerAddressPerMinute and Params.JoinsPerInvitationPerMinute.
const (
	DefaultJoinsPerAddressPerMinute    = 60
	DefaultJoinsPerInvitationPerMinute = 600
)

var (
	errJoinsFromAddress  = problem(http.StatusTooManyRequests, "too_many_joins_from_address", "too many joins from your network address: try again in a minute")
	errJoinsOnInvitation = problem(http.StatusTooManyRequests, "too_many_joins_on_invitation", "too many joins with this invitation link: try again in a minute")
)

// joinLimits bound the joins through invitation links: per client address (as clientAddr
// sees it, an IPv6 address by its /64) and per invitation, each a number per minute with
// as many at once; each follows at most maxRateKeys keys.
type joinLimits struct {
	byAddress    *rateLimiter[netip.Prefix]
	byInvitation *rateLimiter[string]
}

// newJoinLimits makes the limits on the clock now, 0 meaning the default.
func newJoinLimits(now func() time.Time, perAddress, perInvitation int) *joinLimits {
	perAddress = cmp.Or(perAddress, DefaultJoinsPerAddressPerMinute)
	perInvitation = cmp.Or(perInvitation, DefaultJoinsPerInvitationPerMinute)
	return &joinLimits{
		byAddress:    newRateLimiter[netip.Prefix](now, perAddress, time.Minute/time.Duration(perAddress), maxRateKeys),
		byInvitation: newRateLimiter[string](now, perInvitation, time.Minute/time.Duration(perInvitation), maxRateKeys),
	}
}

// allowJoinFrom counts a join from c's client address; when over the limit it answers
// 429 and returns false.
func (s *Server) allowJoinFrom(c *gin.Context) bool {
	ip, _ := s.clientAddr(c.Request)
	return !refused(c, s.joins.byAddress, clientKey(ip), errJoinsFromAddress)
}

// allowJoinWith counts a join with the invitation id; when over the limit it answers
// 429 and returns false.
func (s *Server) allowJoinWith(c *gin.Context, invitationID string) bool {
	return !refused(c, s.joins.byInvitation, invitationID, errJoinsOnInvitation)
}
