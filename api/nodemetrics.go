package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"webinaire/sfu"
)

// censusCollector exposes what the node's open rooms hold, counted at each scrape: no
// room id nor participant appears, only totals.
type censusCollector struct {
	sfu                                *sfu.Server
	rooms, participants, lobby, tracks *prometheus.Desc
	links, relayed                     *prometheus.Desc
}

func newCensusCollector(s *sfu.Server) *censusCollector {
	return &censusCollector{
		sfu:          s,
		rooms:        prometheus.NewDesc("webinaire_rooms_open", "Rooms open on this node.", nil, nil),
		participants: prometheus.NewDesc("webinaire_participants", "Participants in this node's rooms, by role, those waiting in a lobby excepted.", []string{"role"}, nil),
		lobby:        prometheus.NewDesc("webinaire_lobby_participants", "Participants waiting in the lobbies of this node's rooms.", nil, nil),
		tracks:       prometheus.NewDesc("webinaire_published_tracks", "Tracks published in this node's rooms, by kind (audio, video).", []string{"kind"}, nil),
		links:        prometheus.NewDesc("webinaire_relay_links", "Links between nodes for webinars larger than one node: as origin, edge nodes linked to this node's rooms; as edge, this node's rooms fed by another node.", []string{"side"}, nil),
		relayed:      prometheus.NewDesc("webinaire_relayed_layers", "Layers of tracks this node sends to edge nodes, one stream per layer and link.", nil, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (c *censusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rooms
	ch <- c.participants
	ch <- c.lobby
	ch <- c.tracks
	ch <- c.links
	ch <- c.relayed
}

// Collect counts the rooms.
func (c *censusCollector) Collect(ch chan<- prometheus.Metric) {
	cs := c.sfu.Census()
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(cs.Rooms))
	for role, n := range cs.Participants {
		ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(n), string(role))
	}
	ch <- prometheus.MustNewConstMetric(c.lobby, prometheus.GaugeValue, float64(cs.Lobby))
	for kind, n := range cs.Tracks {
		ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(n), kind)
	}
	ch <- prometheus.MustNewConstMetric(c.links, prometheus.GaugeValue, float64(cs.Relays), "origin")
	ch <- prometheus.MustNewConstMetric(c.links, prometheus.GaugeValue, float64(cs.EdgeRooms), "edge")
	ch <- prometheus.MustNewConstMetric(c.relayed, prometheus.GaugeValue, float64(cs.RelayedLayers))
}

// feedbackCollector exposes the RTCP feedback of the node's media: keyframe requests
// sent to publishers, NACKs and receiver-reported loss from subscribers.
type feedbackCollector struct {
	sfu               *sfu.Server
	plis, nacks, loss *prometheus.Desc
}

func newFeedbackCollector(s *sfu.Server) *feedbackCollector {
	return &feedbackCollector{
		sfu:   s,
		plis:  prometheus.NewDesc("webinaire_keyframe_requests_total", "Keyframe requests (PLI) sent to publishers, for a new subscriber, a layer switch or a subscriber's own request.", nil, nil),
		nacks: prometheus.NewDesc("webinaire_nacks_received_total", "NACK packets received from subscribers, each asking for one or more lost packets.", nil, nil),
		loss:  prometheus.NewDesc("webinaire_receiver_loss_fraction", "Fraction of the packets lost that subscribers' receiver reports gave, one observation per report and track.", nil, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (f *feedbackCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.plis
	ch <- f.nacks
	ch <- f.loss
}

// Collect reads the counts.
func (f *feedbackCollector) Collect(ch chan<- prometheus.Metric) {
	s := f.sfu.ForwardStats()
	ch <- prometheus.MustNewConstMetric(f.plis, prometheus.CounterValue, float64(s.KeyframeRequests))
	ch <- prometheus.MustNewConstMetric(f.nacks, prometheus.CounterValue, float64(s.NACKs))
	buckets := make(map[float64]uint64, sfu.LossBuckets)
	for i, b := range sfu.LossBounds() {
		buckets[b] = s.Loss.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(f.loss, s.Loss.Count, s.Loss.Sum, buckets)
}

// placementCollector exposes the placement decisions of the node's cluster part.
type placementCollector struct {
	cluster *Cluster // nil when the node is not in a cluster
	desc    *prometheus.Desc
}

func newPlacementCollector(c *Cluster) *placementCollector {
	return &placementCollector{
		cluster: c,
		desc:    prometheus.NewDesc("webinaire_placements_total", "Placement requests this node made, by outcome: placed (first placement), already_placed (the room's node is alive), moved (placed again after its node went or it closed), failed.", []string{"outcome"}, nil),
	}
}

// Describe sends the description of the metric.
func (p *placementCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect reads the counts.
func (p *placementCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.cluster.Placements()
	for _, o := range []struct {
		outcome string
		n       uint64
	}{{"placed", st.Placed}, {"already_placed", st.AlreadyPlaced}, {"moved", st.Moved}, {"failed", st.Failed}} {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.CounterValue, float64(o.n), o.outcome)
	}
}

// newJoinDuration is the histogram of the join calls' durations, by route.
func newJoinDuration() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "webinaire_join_duration_seconds",
		Help:    "Time to answer a successful join call (token signed, room placed), by route: owner, invitation, rejoin.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"route"})
}

// timeJoin measures the join handler h on route into the join histogram, when it
// answers 200.
func (s *Server) timeJoin(route string, h gin.HandlerFunc) gin.HandlerFunc {
	obs := s.joinDuration.WithLabelValues(route)
	return func(c *gin.Context) {
		start := s.now()
		h(c)
		if c.Writer.Status() == http.StatusOK {
			obs.Observe(float64(s.now().Sub(start)) / float64(time.Second))
		}
	}
}
