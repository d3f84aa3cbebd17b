package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"webinaire/api"
	"webinaire/privacy"
	"webinaire/sfu"
	"webinaire/store"
)

// Config is the whole configuration tree. Every field is documented, with its default, in
// docs/configuration.md; the yaml tag is the key in the file and, upper-cased and joined with
// underscores behind WEBINAIRE_, the environment variable that overrides it.
type Config struct {
	// Mode is "development" (the embedded default) or "production".
	Mode     string         `yaml:"mode"`
	Server   ServerConfig   `yaml:"server"`
	Database DatabaseConfig `yaml:"database"`
	// Recordings says where recordings are stored.
	Recordings RecordingsConfig `yaml:"recordings"`
	// Captions is the speech-to-text service of automatic captions, off by default.
	Captions  CaptionsConfig  `yaml:"captions"`
	OIDC      OIDCConfig      `yaml:"oidc"`
	DevIDP    DevIDPConfig    `yaml:"dev_idp"`
	Session   SessionConfig   `yaml:"session"`
	Retention RetentionConfig `yaml:"retention"`
	Privacy   PrivacyConfig   `yaml:"privacy"`
	Media     MediaConfig     `yaml:"media"`
	Cluster   ClusterConfig   `yaml:"cluster"`
	Log       LogConfig       `yaml:"log"`
	Metrics   MetricsConfig   `yaml:"metrics"`
}

// MetricsConfig is /metrics, for Prometheus: off unless it has an address of its own or
// a token.
type MetricsConfig struct {
	// Listen is an address that serves /metrics only; empty means none.
	Listen string `yaml:"listen"`
	// Token, when set, is the bearer token /metrics asks for, and serves it on
	// server.listen too.
	Token string `yaml:"token"`
	// Cache is how long the figures read from the database are served again.
	Cache Duration `yaml:"cache"`
}

// ClusterConfig is this node's place among the nodes that share one database: each
// heartbeats its load into it, and each room runs on the node it is placed on. The
// defaults make a cluster of one node with nothing to set.
type ClusterConfig struct {
	// NodeID names this node in the cluster, and the recordings it makes; empty means
	// the host name.
	NodeID string `yaml:"node_id"`
	// URL is this node's own base URL, where clients open their WebSocket (and WHIP/WHEP)
	// to its rooms; empty means the public URL (server.public_url, or the listen address).
	URL string `yaml:"url"`
	// MediaAddress is where this node receives media, shown to the operators; empty
	// means the URL's host and the media port.
	MediaAddress string `yaml:"media_address"`
	// Capacity is how many participants this node takes; placement sends no new room to
	// a node at its capacity.
	Capacity int `yaml:"capacity"`
	// Roles is both (API and rooms), api (no room is placed here) or media.
	Roles string `yaml:"roles"`
	// HeartbeatInterval is how often this node writes its load.
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	// NodeTimeout is how old a node's last heartbeat may be before it is gone and its
	// rooms are placed again.
	NodeTimeout Duration `yaml:"node_timeout"`
	// SeatHold is how long a join reserves a seat on the room's node for its participant
	// to arrive.
	SeatHold Duration `yaml:"seat_hold"`
	// DrainTimeout is how long a stopping node keeps its rooms, taking no new one, before
	// they move to other nodes; 0 moves them at once. Part of server.shutdown_timeout.
	DrainTimeout Duration `yaml:"drain_timeout"`
}

// DefaultNodeCapacity is cluster.capacity's default.
const DefaultNodeCapacity = 1000

// nodeID is what a node id may be: it travels in the join tokens.
var nodeID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// minMetricsToken is the shortest metrics token.
const minMetricsToken = 16

// MediaConfig is the SFU (sfu.Server) that serve runs in the process, and the join tokens
// the API hands out for it.
type MediaConfig struct {
	// UDPPort is the one UDP port all media goes through (ICE UDP mux); 0 picks a free one.
	UDPPort int `yaml:"udp_port"`
	// PublicIPs are the public addresses of a host behind 1:1 NAT (a cloud VM).
	PublicIPs []string `yaml:"public_ips"`
	// IncludeLoopback offers loopback candidates, and accepts clients' candidates on
	// loopback and the host's own addresses; its default depends on the mode.
	IncludeLoopback bool `yaml:"include_loopback"`
	// AllowPrivateCandidates accepts clients' candidates on private addresses (an intranet).
	AllowPrivateCandidates bool `yaml:"allow_private_candidates"`
	// EmptyRoomGrace is how long an empty room stays open for someone to come back.
	EmptyRoomGrace Duration `yaml:"empty_room_grace"`
	// TokenLifetime is how long a participant may come back into its room with the
	// session credential it got when it entered; its TURN credentials last as long.
	TokenLifetime Duration `yaml:"token_lifetime"`
	// EntryTokenLifetime is how long a join token the API made may be used to enter.
	EntryTokenLifetime Duration `yaml:"entry_token_lifetime"`
	// TokenKeyFile holds the join tokens' key; empty means a random key per process.
	TokenKeyFile string `yaml:"token_key_file"`
	// TURN is the TURN server handed to clients: none, one in the process, or coturn.
	TURN TURNConfig `yaml:"turn"`
	// MaxMeetingParticipants and MaxWebinarParticipants cap the participants of a room of
	// each kind; moderators come in beyond.
	MaxMeetingParticipants int `yaml:"max_meeting_participants"`
	MaxWebinarParticipants int `yaml:"max_webinar_participants"`
	// MaxLobby caps the participants waiting in a room's lobby.
	MaxLobby int `yaml:"max_lobby"`
	// MaxBroadcasts caps the live broadcasts this node encodes at once.
	MaxBroadcasts int `yaml:"max_broadcasts"`
	// WritersAbove is the number of subscribers of a track's layer above which its
	// packets are written by several writer goroutines; MaxWritersPerTrack bounds them
	// per layer, 0 for twice the cores the process may use.
	WritersAbove       int `yaml:"writers_above"`
	MaxWritersPerTrack int `yaml:"max_writers_per_track"`
	// DirectSend encrypts forwarded media with the server's own SRTP contexts and writes
	// it to the media sockets itself; false sends it through Pion's SRTP session and ICE
	// connection (sfu.WebRTCConfig.ThroughPion).
	DirectSend bool `yaml:"direct_send"`
	// JoinsPerAddressPerMinute and JoinsPerInvitationPerMinute limit the joins through
	// invitation links.
	JoinsPerAddressPerMinute    int `yaml:"joins_per_address_per_minute"`
	JoinsPerInvitationPerMinute int `yaml:"joins_per_invitation_per_minute"`
}

// TURNConfig is the TURN server the clients are given, media.turn.
type TURNConfig struct {
	// Mode is off, embedded (sfu.TURN in the process) or external (coturn).
	Mode string `yaml:"mode"`
	// Listen is the UDP address of the embedded TURN server.
	Listen string `yaml:"listen"`
	// TCPListen is its TCP address; empty means Listen.
	TCPListen string `yaml:"tcp_listen"`
	// TLSListen is its TLS address (turns:); empty means no TLS.
	TLSListen string `yaml:"tls_listen"`
	// TLSCertFile is the PEM certificate chain of TLSListen.
	TLSCertFile string `yaml:"tls_cert_file"`
	// TLSKeyFile is the PEM private key of TLSListen.
	TLSKeyFile string `yaml:"tls_key_file"`
	// PublicIP is the address the embedded TURN server and its relays are reached at.
	PublicIP string `yaml:"public_ip"`
	// Host is the host of the embedded TURN server's URLs; empty means PublicIP.
	Host string `yaml:"host"`
	// SecretFile holds the embedded TURN server's shared secret, created when missing.
	SecretFile string `yaml:"secret_file"`
	// Secret is the shared secret of an external TURN server (coturn's static-auth-secret).
	Secret string `yaml:"secret"`
	// URLs are the turn: and turns: URLs of an external TURN server.
	URLs []string `yaml:"urls"`
	// AllowPrivatePeers lets the embedded TURN server relay to private addresses.
	AllowPrivatePeers bool `yaml:"allow_private_peers"`
}

// The values of media.turn.mode.
const (
	turnOff      = "off"
	turnEmbedded = "embedded"
	turnExternal = "external"
)

// maxLoginFlows bounds session.login_flows_per_client and session.login_flows_total: a
// million pending logins are about 2 GB of database at most.
const maxLoginFlows = 1_000_000

// minTURNSecret is the shortest shared secret of an external TURN server.
const minTURNSecret = 16

// hostName is a DNS name, as media.turn.host may be.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// RetentionConfig is the retention policy and its sweeps.
type RetentionConfig struct {
	Accounts      Period   `yaml:"accounts"`
	Recordings    Period   `yaml:"recordings"`
	Slides        Period   `yaml:"slides"`
	ConnectionLog Period   `yaml:"connection_log"`
	AuditTrail    Period   `yaml:"audit_trail"`
	Schedule      Duration `yaml:"schedule"`
	BatchSize     int      `yaml:"batch_size"`
	// OrphanGrace protects recording files that no row names, and rows whose files are
	// missing, for this long after their last change (or the recording's end).
	OrphanGrace Duration `yaml:"orphan_grace"`
}

// PrivacyConfig is what the privacy notice names, and the deletion ledger's keys and
// checkpoint log.
type PrivacyConfig struct {
	Controller           string `yaml:"controller"`
	Contact              string `yaml:"contact"`
	DPO                  string `yaml:"dpo"`
	LedgerKeyFile        string `yaml:"ledger_key_file"`
	LedgerSigningKeyFile string `yaml:"ledger_signing_key_file"`
	LedgerCheckpointFile string `yaml:"ledger_checkpoint_file"`
}

// Period is a retention period written "12 months", "1 year", "30 days".
type Period privacy.Period

// UnmarshalYAML reads a period.
func (p *Period) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	return p.set(s)
}

func (p *Period) set(s string) error {
	v, err := privacy.ParsePeriod(s)
	if err != nil {
		return err
	}
	*p = Period(v)
	return nil
}

// String writes the period the way it is configured.
func (p Period) String() string { return privacy.Period(p).String() }

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Listen          string   `yaml:"listen"`
	PublicURL       string   `yaml:"public_url"`
	TrustedProxies  []string `yaml:"trusted_proxies"`
	MaxBodyBytes    int64    `yaml:"max_body_bytes"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// ReadTimeout bounds the reading of a whole request, headers and body.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds the writing of an answer; a long download has it for each
	// piece, and a WebSocket has its own liveness checks instead.
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxRequestsPerClient bounds the requests one client address has in progress at once.
	MaxRequestsPerClient int `yaml:"max_requests_per_client"`
	// MediaSessionsBurst and MediaSessionsPerHour limit the media sessions one client
	// address opens, each of which writes to the connection log.
	MediaSessionsBurst   int `yaml:"media_sessions_burst"`
	MediaSessionsPerHour int `yaml:"media_sessions_per_hour"`
}

// DatabaseConfig selects and reaches the database.
type DatabaseConfig struct {
	Driver        string   `yaml:"driver"`
	URL           string   `yaml:"url"`
	MaxOpenConns  int      `yaml:"max_open_conns"`
	RetryInterval Duration `yaml:"retry_interval"`
}

// RecordingsConfig is the recording storage: a local folder, where recordings are
// written and finalized, and optionally an S3-compatible bucket that keeps them once
// finished.
type RecordingsConfig struct {
	Dir string `yaml:"dir"`
	// S3Endpoint, when set, keeps finished recordings in S3Bucket on that server.
	S3Endpoint      string `yaml:"s3_endpoint"`
	S3Bucket        string `yaml:"s3_bucket"`
	S3Region        string `yaml:"s3_region"`
	S3AccessKey     string `yaml:"s3_access_key"`
	S3SecretKeyFile string `yaml:"s3_secret_key_file"`
	S3Insecure      bool   `yaml:"s3_insecure"`
}

// CaptionsConfig is the organisation's own speech-to-text service for automatic captions
// (docs/captions.md): off while STTURL is empty.
type CaptionsConfig struct {
	// STTURL is the service's WebSocket address, ws:// or wss://.
	STTURL string `yaml:"stt_url"`
	// STTLanguage is the language the service is asked to transcribe: fr or en.
	STTLanguage string `yaml:"stt_language"`
}

// OIDCConfig is the organisation's OpenID Connect provider.
type OIDCConfig struct {
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	AdminEmails  []string `yaml:"admin_emails"`
	AdminClaim   string   `yaml:"admin_claim"`
	AdminValues  []string `yaml:"admin_values"`
}

// DevIDPConfig is the built-in development identity provider.
type DevIDPConfig struct {
	Enabled bool `yaml:"enabled"`
}

// SessionConfig is the organizer session, and the bounds on logins started and not
// finished (each a row until it ends or expires).
type SessionConfig struct {
	IdleTimeout         Duration `yaml:"idle_timeout"`
	AbsoluteTimeout     Duration `yaml:"absolute_timeout"`
	LoginFlowsPerClient int      `yaml:"login_flows_per_client"`
	LoginFlowsTotal     int      `yaml:"login_flows_total"`
}

// LogConfig is the process log (never personal data: addresses go to the connection log only).
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Duration is a time.Duration written as "90s", "2h30m".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	return d.set(s)
}

func (d *Duration) set(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not a duration (examples: 90s, 15m, 2h): %q", s)
	}
	*d = Duration(v)
	return nil
}

// String prints the duration the way it is written.
func (d Duration) String() string { return time.Duration(d).String() }

// Development and production are the two modes.
const (
	modeDevelopment = "development"
	modeProduction  = "production"
)

// DefaultConfig is the embedded default: everything on one port, SQLite under ./data,
// the development identity provider.
func DefaultConfig() Config {
	return Config{
		Mode: modeDevelopment,
		Server: ServerConfig{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    1 << 20,
			ShutdownTimeout: Duration(15 * time.Second),
			// What slow or numerous clients may hold.
			ReadTimeout:          Duration(30 * time.Second),
			WriteTimeout:         Duration(60 * time.Second),
			MaxRequestsPerClient: 1000,
			MediaSessionsBurst:   600,
			MediaSessionsPerHour: 600,
		},
		Database: DatabaseConfig{
			Driver:        "sqlite",
			URL:           "data/webinaire.db",
			MaxOpenConns:  10,
			RetryInterval: Duration(2 * time.Second),
		},
		Recordings: RecordingsConfig{Dir: "data/recordings"},
		Captions:   CaptionsConfig{STTLanguage: "fr"},
		OIDC: OIDCConfig{
			Scopes:      []string{"openid", "profile", "email"},
			AdminClaim:  "groups",
			AdminValues: []string{"webinaire-admins"},
		},
		DevIDP: DevIDPConfig{Enabled: true},
		Session: SessionConfig{
			IdleTimeout:         Duration(2 * time.Hour),
			AbsoluteTimeout:     Duration(12 * time.Hour),
			LoginFlowsPerClient: api.DefaultLoginFlowsPerClient,
			LoginFlowsTotal:     api.DefaultLoginFlowsTotal,
		},
		Retention: RetentionConfig{
			Accounts:      Period{Months: 12},
			Recordings:    Period{Months: 12},
			Slides:        Period{Months: 1},
			ConnectionLog: Period{Months: 12},
			AuditTrail:    Period{Months: 12},
			Schedule:      Duration(24 * time.Hour),
			BatchSize:     1000,
			OrphanGrace:   Duration(privacy.DefaultOrphanGrace),
		},
		Privacy: PrivacyConfig{
			LedgerKeyFile:        "data/ledger.key",
			LedgerSigningKeyFile: "data/ledger-signing.key",
			LedgerCheckpointFile: "data/ledger-checkpoints",
		},
		Media: MediaConfig{
			UDPPort:            7882,
			IncludeLoopback:    true, // development only: see modeDefaults
			EmptyRoomGrace:     Duration(2 * time.Minute),
			TokenLifetime:      Duration(2 * time.Hour),
			EntryTokenLifetime: Duration(5 * time.Minute),
			TURN:               TURNConfig{Mode: turnOff, Listen: sfu.DefaultTURNListen, SecretFile: "data/turn.key"},

			MaxMeetingParticipants:      sfu.DefaultMaxMeetingParticipants,
			MaxWebinarParticipants:      sfu.DefaultMaxWebinarParticipants,
			MaxLobby:                    sfu.DefaultMaxLobby,
			MaxBroadcasts:               api.DefaultMaxBroadcasts,
			WritersAbove:                sfu.DefaultSpreadAbove,
			DirectSend:                  true,
			JoinsPerAddressPerMinute:    api.DefaultJoinsPerAddressPerMinute,
			JoinsPerInvitationPerMinute: api.DefaultJoinsPerInvitationPerMinute,
		},
		Cluster: ClusterConfig{
			Capacity:          DefaultNodeCapacity,
			Roles:             store.NodeRoleBoth,
			HeartbeatInterval: Duration(api.DefaultHeartbeatInterval),
			NodeTimeout:       Duration(api.DefaultNodeTimeout),
			SeatHold:          Duration(api.DefaultSeatHold),
		},
		Log:     LogConfig{Level: "info", Format: "text"},
		Metrics: MetricsConfig{Cache: Duration(30 * time.Second)},
	}
}

// envPrefix starts every environment override; WEBINAIRE_TEST_ variables belong to the test suite.
const (
	envPrefix     = "WEBINAIRE_"
	envTestPrefix = "WEBINAIRE_TEST_"
)

// LoadConfig builds the configuration: defaults, then the file (when path is not empty), then
// the environment. It returns an error naming the key for an unknown key, a wrong type or an
// impossible value.
func LoadConfig(path string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	set := make(map[string]bool) // the keys given in the file or the environment
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read configuration: %w", err)
		}
		if err := decodeYAML(data, &cfg, set); err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ, set); err != nil {
		return cfg, err
	}
	cfg.modeDefaults(set)
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// modeDefaults gives the keys whose default depends on the mode, and that were not set, their
// production value: DefaultConfig holds the development one.
func (c *Config) modeDefaults(set map[string]bool) {
	if c.Mode == modeProduction && !set["media.include_loopback"] {
		c.Media.IncludeLoopback = false
	}
}

// decodeYAML decodes a document into cfg key by key, so that errors name the full key; it
// adds the keys it sets to set.
func decodeYAML(data []byte, cfg *Config, set map[string]bool) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file keeps the defaults
	}
	return decodeNode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "", set)
}

// isLeaf tells a configuration value from a section: sections are structs without their own
// YAML decoding.
func isLeaf(v reflect.Value) bool {
	_, custom := v.Addr().Interface().(yaml.Unmarshaler)
	return v.Kind() != reflect.Struct || custom
}

func decodeNode(n *yaml.Node, v reflect.Value, path string, set map[string]bool) error {
	if isLeaf(v) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			return fmt.Errorf("key %s (line %d): %s", path, n.Line, typeError(err))
		}
		set[path] = true
		return nil
	}
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "the document"
		}
		return fmt.Errorf("key %s (line %d): want a mapping of keys", where, n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := joinKey(path, k.Value)
		f, ok := fieldByTag(v, k.Value)
		if !ok {
			if rest, ok := strings.CutPrefix(name, "media.turn_"); ok {
				return fmt.Errorf("unknown key %s (line %d): the TURN keys are under media.turn now, media.turn.%s", name, k.Line, rest)
			}
			return fmt.Errorf("unknown key %s (line %d)", name, k.Line)
		}
		if err := decodeNode(val, f, name, set); err != nil {
			return err
		}
	}
	return nil
}

// typeError shortens yaml's type error to what a reader needs.
func typeError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if _, after, ok := strings.Cut(msg, ": "); ok {
			msg = after
		}
		return "wrong type: " + msg
	}
	return err.Error()
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldByTag(v reflect.Value, tag string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == tag {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// configKey is one leaf of the tree: its dotted key, its environment variable and where it lives.
type configKey struct {
	Key   string
	Env   string
	Value reflect.Value
}

// configKeys lists every leaf key of cfg in declaration order.
func configKeys(cfg *Config) []configKey {
	var keys []configKey
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		t := v.Type()
		for i := range t.NumField() {
			key := joinKey(path, t.Field(i).Tag.Get("yaml"))
			f := v.Field(i)
			if !isLeaf(f) {
				walk(f, key)
				continue
			}
			env := envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
			keys = append(keys, configKey{Key: key, Env: env, Value: f})
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return keys
}

// applyEnv applies WEBINAIRE_<SECTION>_<KEY> overrides and adds their keys to set. Lists
// are comma-separated.
func applyEnv(cfg *Config, environ []string, set map[string]bool) error {
	byEnv := make(map[string]configKey)
	for _, k := range configKeys(cfg) {
		byEnv[k.Env] = k
	}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || strings.HasPrefix(name, envTestPrefix) {
			continue
		}
		k, ok := byEnv[name]
		if !ok && name == envPrefix+"MEDIA_TURN" {
			return fmt.Errorf("unknown environment variable %s: media.turn is a section now, set %sMEDIA_TURN_MODE", name, envPrefix)
		}
		if !ok {
			return fmt.Errorf("unknown environment variable %s (see docs/configuration.md)", name)
		}
		if err := setFromString(k.Value, value); err != nil {
			return fmt.Errorf("%s (key %s): %w", name, k.Key, err)
		}
		set[k.Key] = true
	}
	return nil
}

func setFromString(v reflect.Value, s string) error {
	switch p := v.Addr().Interface().(type) {
	case *Duration:
		return p.set(s)
	case *Period:
		return p.set(s)
	case *string:
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", s)
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", s)
		}
		*p = n
	case *[]string:
		*p = nil
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*p = append(*p, item)
			}
		}
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Validate checks values that parse but cannot work; each error names its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("key %s: "+format, append([]any{key}, args...)...))
	}
	if c.Mode != modeDevelopment && c.Mode != modeProduction {
		bad("mode", "want development or production, got %q", c.Mode)
	}
	if _, port, err := net.SplitHostPort(c.Server.Listen); err != nil {
		bad("server.listen", "want host:port, got %q", c.Server.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("server.listen", "port out of range in %q", c.Server.Listen)
	}
	if c.Server.PublicURL != "" {
		u, err := url.Parse(c.Server.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("server.public_url", "want an absolute http(s) URL without a path, got %q", c.Server.PublicURL)
		}
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			bad("server.trusted_proxies", "%q is not an IP address or CIDR range", p)
		}
	}
	if c.Server.MaxBodyBytes < 1024 || c.Server.MaxBodyBytes > 64<<20 {
		bad("server.max_body_bytes", "want between 1024 and 67108864, got %d", c.Server.MaxBodyBytes)
	}
	if c.Server.ShutdownTimeout <= 0 {
		bad("server.shutdown_timeout", "want a positive duration")
	}
	if c.Server.ReadTimeout < Duration(time.Second) || c.Server.ReadTimeout > Duration(time.Hour) {
		bad("server.read_timeout", "want between 1s and 1h, got %s", c.Server.ReadTimeout)
	}
	if c.Server.WriteTimeout < Duration(time.Second) || c.Server.WriteTimeout > Duration(time.Hour) {
		bad("server.write_timeout", "want between 1s and 1h, got %s", c.Server.WriteTimeout)
	}
	if c.Server.MaxRequestsPerClient < 1 || c.Server.MaxRequestsPerClient > 1_000_000 {
		bad("server.max_requests_per_client", "want between 1 and 1000000, got %d", c.Server.MaxRequestsPerClient)
	}
	if c.Server.MediaSessionsBurst < 1 || c.Server.MediaSessionsBurst > 1_000_000 {
		bad("server.media_sessions_burst", "want between 1 and 1000000, got %d", c.Server.MediaSessionsBurst)
	}
	if c.Server.MediaSessionsPerHour < 1 || c.Server.MediaSessionsPerHour > 3_600_000 {
		bad("server.media_sessions_per_hour", "want between 1 and 3600000, got %d", c.Server.MediaSessionsPerHour)
	}
	if c.Metrics.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "want host:port, got %q", c.Metrics.Listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("metrics.listen", "port out of range in %q", c.Metrics.Listen)
		}
	}
	if c.Metrics.Token != "" && len(c.Metrics.Token) < minMetricsToken {
		bad("metrics.token", "want at least %d characters", minMetricsToken)
	}
	if c.Metrics.Cache < Duration(time.Second) || c.Metrics.Cache > Duration(time.Hour) {
		bad("metrics.cache", "want between 1s and 1h, got %s", c.Metrics.Cache)
	}
	switch c.Database.Driver {
	case "sqlite", "postgres":
	default:
		bad("database.driver", "want sqlite or postgres, got %q", c.Database.Driver)
	}
	if c.Database.URL == "" {
		bad("database.url", "must not be empty")
	} else if c.Database.Driver == "postgres" && !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") {
		bad("database.url", "want a postgres:// URL for the postgres driver")
	}
	if c.Database.MaxOpenConns < 1 {
		bad("database.max_open_conns", "want at least 1, got %d", c.Database.MaxOpenConns)
	}
	if c.Database.RetryInterval <= 0 {
		bad("database.retry_interval", "want a positive duration")
	}
	if c.Recordings.Dir == "" {
		bad("recordings.dir", "must not be empty")
	}
	if c.Recordings.S3Endpoint != "" {
		if c.Recordings.S3Bucket == "" {
			bad("recordings.s3_bucket", "must be set with recordings.s3_endpoint")
		}
		if c.Recordings.S3AccessKey == "" || c.Recordings.S3SecretKeyFile == "" {
			bad("recordings.s3_access_key", "an access key and recordings.s3_secret_key_file must be set with recordings.s3_endpoint")
		}
	}
	if u := c.Captions.STTURL; u != "" && !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
		bad("captions.stt_url", "want a ws:// or wss:// address, got %q", u)
	}
	if l := c.Captions.STTLanguage; l != "fr" && l != "en" {
		bad("captions.stt_language", "want fr or en, got %q", l)
	}
	if !c.DevIDP.Enabled {
		if c.OIDC.Issuer == "" {
			bad("oidc.issuer", "must be set when dev_idp.enabled is false")
		}
		if c.OIDC.ClientID == "" {
			bad("oidc.client_id", "must be set when dev_idp.enabled is false")
		}
	}
	if c.OIDC.Issuer != "" {
		if u, err := url.Parse(c.OIDC.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.Mode == modeDevelopment)) {
			bad("oidc.issuer", "want an https URL, got %q", c.OIDC.Issuer)
		}
	}
	if !slices.Contains(c.OIDC.Scopes, "openid") {
		bad("oidc.scopes", "must contain openid")
	}
	if c.Session.IdleTimeout < Duration(time.Minute) {
		bad("session.idle_timeout", "want at least 1m")
	}
	if c.Session.AbsoluteTimeout < c.Session.IdleTimeout {
		bad("session.absolute_timeout", "want at least session.idle_timeout (%s)", c.Session.IdleTimeout)
	}
	if c.Session.LoginFlowsPerClient < 1 || c.Session.LoginFlowsPerClient > maxLoginFlows {
		bad("session.login_flows_per_client", "want between 1 and %d, got %d", maxLoginFlows, c.Session.LoginFlowsPerClient)
	}
	if c.Session.LoginFlowsTotal < c.Session.LoginFlowsPerClient || c.Session.LoginFlowsTotal > maxLoginFlows {
		bad("session.login_flows_total", "want between session.login_flows_per_client (%d) and %d, got %d", c.Session.LoginFlowsPerClient, maxLoginFlows, c.Session.LoginFlowsTotal)
	}
	policy := c.Policy()
	if err := policy.Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			key, detail, _ := strings.Cut(e, ": ")
			bad("retention."+key, "%s", detail)
		}
	}
	if c.Retention.Schedule < Duration(time.Minute) {
		bad("retention.schedule", "want at least 1m")
	}
	if c.Retention.OrphanGrace < Duration(time.Hour) {
		bad("retention.orphan_grace", "want at least 1h")
	}
	if c.Retention.BatchSize < 1 || c.Retention.BatchSize > 100000 {
		bad("retention.batch_size", "want between 1 and 100000, got %d", c.Retention.BatchSize)
	}
	if c.Privacy.LedgerKeyFile == "" {
		bad("privacy.ledger_key_file", "must not be empty")
	}
	if !strings.HasSuffix(c.Privacy.LedgerSigningKeyFile, ".key") {
		bad("privacy.ledger_signing_key_file", "want a file name ending in .key (the public key goes beside it, in .pub)")
	}
	if c.Privacy.LedgerCheckpointFile == "" {
		bad("privacy.ledger_checkpoint_file", "must not be empty")
	}
	if c.Media.UDPPort < 0 || c.Media.UDPPort > 65535 {
		bad("media.udp_port", "want between 0 and 65535, got %d", c.Media.UDPPort)
	}
	for _, ip := range c.Media.PublicIPs {
		if net.ParseIP(ip) == nil {
			bad("media.public_ips", "%q is not an IP address", ip)
		}
	}
	if c.Media.EmptyRoomGrace < Duration(time.Second) || c.Media.EmptyRoomGrace > Duration(24*time.Hour) {
		bad("media.empty_room_grace", "want between 1s and 24h, got %s", c.Media.EmptyRoomGrace)
	}
	if c.Media.TokenLifetime < Duration(time.Minute) || c.Media.TokenLifetime > Duration(sfu.MaxTokenLifetime) {
		bad("media.token_lifetime", "want between 1m and 24h, got %s", c.Media.TokenLifetime)
	}
	if c.Media.EntryTokenLifetime < Duration(10*time.Second) || c.Media.EntryTokenLifetime > min(c.Media.TokenLifetime, Duration(time.Hour)) {
		bad("media.entry_token_lifetime", "want between 10s and 1h, and at most media.token_lifetime, got %s", c.Media.EntryTokenLifetime)
	}
	for _, lim := range []struct {
		key        string
		value, max int
	}{
		{"media.max_meeting_participants", c.Media.MaxMeetingParticipants, 10000},
		{"media.max_webinar_participants", c.Media.MaxWebinarParticipants, 100000},
		{"media.max_lobby", c.Media.MaxLobby, 100000},
		{"media.max_broadcasts", c.Media.MaxBroadcasts, 1000},
		{"media.writers_above", c.Media.WritersAbove, 100000},
		{"media.joins_per_address_per_minute", c.Media.JoinsPerAddressPerMinute, 100000},
		{"media.joins_per_invitation_per_minute", c.Media.JoinsPerInvitationPerMinute, 100000},
	} {
		if lim.value < 1 || lim.value > lim.max {
			bad(lim.key, "want between 1 and %d, got %d", lim.max, lim.value)
		}
	}
	if c.Media.MaxWritersPerTrack < 0 || c.Media.MaxWritersPerTrack > 1024 {
		bad("media.max_writers_per_track", "want between 0 (twice the cores) and 1024, got %d", c.Media.MaxWritersPerTrack)
	}
	switch c.Media.TURN.Mode {
	case turnOff:
	case turnEmbedded:
		listens := []struct{ key, value string }{
			{"media.turn.listen", c.Media.TURN.Listen},
			{"media.turn.tcp_listen", c.Media.TURN.TCPListen},
			{"media.turn.tls_listen", c.Media.TURN.TLSListen},
		}
		for i, l := range listens {
			if l.value == "" && i > 0 {
				continue // the TCP port of turn_listen; no TLS
			}
			if host, port, err := net.SplitHostPort(l.value); err != nil {
				bad(l.key, "want host:port, got %q", l.value)
			} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				bad(l.key, "port out of range in %q", l.value)
			} else if _, err := netip.ParseAddr(host); host != "" && err != nil {
				bad(l.key, "want an IP address or nothing before the port, got %q", l.value)
			}
		}
		withTLS := c.Media.TURN.TLSListen != ""
		if withTLS != (c.Media.TURN.TLSCertFile != "") {
			bad("media.turn.tls_cert_file", "set it with media.turn.tls_listen, and only then")
		}
		if withTLS != (c.Media.TURN.TLSKeyFile != "") {
			bad("media.turn.tls_key_file", "set it with media.turn.tls_listen, and only then")
		}
		if _, err := netip.ParseAddr(c.Media.TURN.PublicIP); err != nil {
			bad("media.turn.public_ip", "want the IP address clients reach the TURN server at, got %q", c.Media.TURN.PublicIP)
		}
		if h := c.Media.TURN.Host; h != "" && !hostName.MatchString(h) {
			if _, err := netip.ParseAddr(h); err != nil {
				bad("media.turn.host", "want a host name or an IP address, without a port, got %q", h)
			}
		}
		if c.Media.TURN.SecretFile == "" {
			bad("media.turn.secret_file", "must not be empty with the embedded TURN server")
		}
		if c.Media.UDPPort == 0 {
			bad("media.udp_port", "the embedded TURN server relays to the media port: want a fixed port, not 0")
		}
	case turnExternal:
		if len(c.Media.TURN.URLs) == 0 {
			bad("media.turn.urls", "must list the TURN server's URLs with an external TURN server")
		}
		for _, u := range c.Media.TURN.URLs {
			if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				bad("media.turn.urls", "want turn: or turns: URLs, got %q", u)
			}
		}
		if len(c.Media.TURN.Secret) < minTURNSecret {
			bad("media.turn.secret", "want the external TURN server's shared secret, at least %d characters", minTURNSecret)
		}
	default:
		bad("media.turn.mode", "want off, embedded or external, got %q", c.Media.TURN.Mode)
	}
	if c.Cluster.NodeID != "" && !nodeID.MatchString(c.Cluster.NodeID) {
		bad("cluster.node_id", "want 1 to 128 characters among A-Z a-z 0-9 . _ -, got %q", c.Cluster.NodeID)
	}
	if c.Cluster.URL != "" {
		u, err := url.Parse(c.Cluster.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("cluster.url", "want an absolute http(s) URL without a path, got %q", c.Cluster.URL)
		}
	}
	if c.Cluster.Capacity < 1 || c.Cluster.Capacity > 1_000_000 {
		bad("cluster.capacity", "want between 1 and 1000000, got %d", c.Cluster.Capacity)
	}
	switch c.Cluster.Roles {
	case store.NodeRoleBoth, store.NodeRoleAPI, store.NodeRoleMedia:
	default:
		bad("cluster.roles", "want both, api or media, got %q", c.Cluster.Roles)
	}
	if c.Cluster.HeartbeatInterval < Duration(100*time.Millisecond) || c.Cluster.HeartbeatInterval > Duration(time.Minute) {
		bad("cluster.heartbeat_interval", "want between 100ms and 1m, got %s", c.Cluster.HeartbeatInterval)
	}
	if c.Cluster.NodeTimeout < 2*c.Cluster.HeartbeatInterval || c.Cluster.NodeTimeout > Duration(10*time.Minute) {
		bad("cluster.node_timeout", "want at least twice cluster.heartbeat_interval and at most 10m, got %s", c.Cluster.NodeTimeout)
	}
	if c.Cluster.SeatHold < Duration(time.Second) || c.Cluster.SeatHold > Duration(time.Hour) {
		bad("cluster.seat_hold", "want between 1s and 1h, got %s", c.Cluster.SeatHold)
	}
	if c.Cluster.DrainTimeout < 0 || c.Cluster.DrainTimeout >= c.Server.ShutdownTimeout && c.Cluster.DrainTimeout > 0 {
		bad("cluster.drain_timeout", "want 0, or less than server.shutdown_timeout (%s), got %s", c.Server.ShutdownTimeout, c.Cluster.DrainTimeout)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	if c.Mode == modeProduction {
		if c.DevIDP.Enabled {
			bad("dev_idp.enabled", "the development identity provider is refused in production mode")
		}
		if !strings.HasPrefix(c.Server.PublicURL, "https://") {
			bad("server.public_url", "production mode needs a public https URL, got %q", c.Server.PublicURL)
		}
	}
	return errors.Join(errs...)
}

// Policy is the retention policy the configuration declares.
func (c *Config) Policy() privacy.Policy {
	return privacy.Policy{
		AccountInactivity: privacy.Period(c.Retention.Accounts),
		Recordings:        privacy.Period(c.Retention.Recordings),
		Slides:            privacy.Period(c.Retention.Slides),
		ConnectionLog:     privacy.Period(c.Retention.ConnectionLog),
		AuditTrail:        privacy.Period(c.Retention.AuditTrail),
		SessionAbsolute:   time.Duration(c.Session.AbsoluteTimeout),
		Controller:        c.Privacy.Controller,
		Contact:           c.Privacy.Contact,
		DPO:               c.Privacy.DPO,
	}
}

// BaseURL is the public URL without a trailing slash; in development it defaults to the listen address.
func (c *Config) BaseURL() string {
	if c.Server.PublicURL != "" {
		return strings.TrimSuffix(c.Server.PublicURL, "/")
	}
	host, port, _ := net.SplitHostPort(c.Server.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// parsePrefix reads an address or a CIDR range.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
