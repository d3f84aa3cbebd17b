package deploy_test

// These tests check the deployment files without Docker: that they parse, that they say what
// the README promises, and that they agree with each other (issuer, redirect URI, client
// secret) and with the app's configuration keys. go test runs in this directory.

import (
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// documentedEnv is every WEBINAIRE_* variable the app knows (docs/configuration.md). The app
// refuses to start on an unknown WEBINAIRE_ variable, so a typo here would stop the container.
var documentedEnv = []string{
	"WEBINAIRE_MODE",
	"WEBINAIRE_SERVER_LISTEN",
	"WEBINAIRE_SERVER_PUBLIC_URL",
	"WEBINAIRE_SERVER_TRUSTED_PROXIES",
	"WEBINAIRE_SERVER_MAX_BODY_BYTES",
	"WEBINAIRE_SERVER_SHUTDOWN_TIMEOUT",
	"WEBINAIRE_DATABASE_DRIVER",
	"WEBINAIRE_DATABASE_URL",
	"WEBINAIRE_DATABASE_MAX_OPEN_CONNS",
	"WEBINAIRE_DATABASE_RETRY_INTERVAL",
	"WEBINAIRE_RECORDINGS_DIR",
	"WEBINAIRE_OIDC_ISSUER",
	"WEBINAIRE_OIDC_CLIENT_ID",
	"WEBINAIRE_OIDC_CLIENT_SECRET",
	"WEBINAIRE_OIDC_SCOPES",
	"WEBINAIRE_OIDC_ADMIN_EMAILS",
	"WEBINAIRE_OIDC_ADMIN_CLAIM",
	"WEBINAIRE_OIDC_ADMIN_VALUES",
	"WEBINAIRE_DEV_IDP_ENABLED",
	"WEBINAIRE_SESSION_IDLE_TIMEOUT",
	"WEBINAIRE_SESSION_ABSOLUTE_TIMEOUT",
	"WEBINAIRE_LOG_LEVEL",
	"WEBINAIRE_LOG_FORMAT",
}

const (
	realmFile      = "keycloak/webinaire-realm.json"
	composeFile    = "../docker-compose.yml"
	dockerfile     = "Dockerfile"
	dockerignore   = "Dockerfile.dockerignore"
	caddyfile      = "caddy/Caddyfile"
	adminGroup     = "webinaire-admins"
	clientID       = "webinaire"
	realmName      = "webinaire"
	demoPublicURL  = "http://localhost:8080"
	groupsMapperID = "oidc-group-membership-mapper"
)

// --- Keycloak realm ---------------------------------------------------------------------

type realmExport struct {
	Realm   string           `json:"realm"`
	Enabled bool             `json:"enabled"`
	Groups  []realmGroup     `json:"groups"`
	Clients []keycloakClient `json:"clients"`
	Users   []realmUser      `json:"users"`
}

type realmGroup struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

type realmUser struct {
	Username        string   `json:"username"`
	Enabled         bool     `json:"enabled"`
	Email           string   `json:"email"`
	EmailVerified   bool     `json:"emailVerified"`
	FirstName       string   `json:"firstName"`
	LastName        string   `json:"lastName"`
	RequiredActions []string `json:"requiredActions"`
	Groups          []string `json:"groups"`
	Credentials     []struct {
		Type      string `json:"type"`
		Value     string `json:"value"`
		Temporary bool   `json:"temporary"`
	} `json:"credentials"`
}

type keycloakClient struct {
	ClientID                  string            `json:"clientId"`
	Enabled                   bool              `json:"enabled"`
	Protocol                  string            `json:"protocol"`
	PublicClient              bool              `json:"publicClient"`
	BearerOnly                bool              `json:"bearerOnly"`
	ClientAuthenticatorType   string            `json:"clientAuthenticatorType"`
	Secret                    string            `json:"secret"`
	StandardFlowEnabled       bool              `json:"standardFlowEnabled"`
	ImplicitFlowEnabled       bool              `json:"implicitFlowEnabled"`
	DirectAccessGrantsEnabled bool              `json:"directAccessGrantsEnabled"`
	ServiceAccountsEnabled    bool              `json:"serviceAccountsEnabled"`
	RedirectURIs              []string          `json:"redirectUris"`
	WebOrigins                []string          `json:"webOrigins"`
	Attributes                map[string]string `json:"attributes"`
	DefaultClientScopes       []string          `json:"defaultClientScopes"`
	ProtocolMappers           []struct {
		Name           string            `json:"name"`
		Protocol       string            `json:"protocol"`
		ProtocolMapper string            `json:"protocolMapper"`
		Config         map[string]string `json:"config"`
	} `json:"protocolMappers"`
}

func loadRealm(t *testing.T) realmExport {
	t.Helper()
	data, err := os.ReadFile(realmFile)
	require.NoError(t, err)
	var r realmExport
	require.NoError(t, json.Unmarshal(data, &r), "the realm file must be valid JSON")
	return r
}

func webinaireClient(t *testing.T, r realmExport) keycloakClient {
	t.Helper()
	var found []keycloakClient
	for _, c := range r.Clients {
		if c.ClientID == clientID {
			found = append(found, c)
		}
	}
	require.Len(t, found, 1, "exactly one client %q in the realm", clientID)
	return found[0]
}

func TestRealmIsEnabledAndNamed(t *testing.T) {
	r := loadRealm(t)
	require.Equal(t, realmName, r.Realm)
	require.True(t, r.Enabled)
}

func TestRealmClientIsConfidentialCodeFlowWithPKCE(t *testing.T) {
	c := webinaireClient(t, loadRealm(t))
	require.True(t, c.Enabled)
	require.Equal(t, "openid-connect", c.Protocol)
	require.False(t, c.PublicClient, "the app is a confidential client")
	require.False(t, c.BearerOnly)
	require.Equal(t, "client-secret", c.ClientAuthenticatorType)
	require.NotEmpty(t, c.Secret)

	require.True(t, c.StandardFlowEnabled, "authorization code flow")
	require.False(t, c.ImplicitFlowEnabled, "no implicit flow")
	require.False(t, c.DirectAccessGrantsEnabled, "no password grant")
	require.False(t, c.ServiceAccountsEnabled, "no client credentials grant")

	require.Equal(t, "S256", c.Attributes["pkce.code.challenge.method"])
	require.Equal(t, []string{demoPublicURL + "/auth/callback"}, c.RedirectURIs)
	require.Equal(t, demoPublicURL+"/", c.Attributes["post.logout.redirect.uris"])
	require.Equal(t, []string{demoPublicURL}, c.WebOrigins)
	for _, s := range []string{"basic", "profile", "email"} {
		require.Contains(t, c.DefaultClientScopes, s)
	}
}

func TestRealmClientHasGroupsMapper(t *testing.T) {
	c := webinaireClient(t, loadRealm(t))
	var groups int
	for _, m := range c.ProtocolMappers {
		if m.ProtocolMapper != groupsMapperID {
			continue
		}
		groups++
		require.Equal(t, "openid-connect", m.Protocol)
		require.Equal(t, "groups", m.Config["claim.name"], "the app reads the claim groups by default")
		require.Equal(t, "false", m.Config["full.path"], "group names without the leading slash")
		require.Equal(t, "true", m.Config["id.token.claim"])
		require.Equal(t, "true", m.Config["access.token.claim"])
		require.Equal(t, "true", m.Config["userinfo.token.claim"])
	}
	require.Equal(t, 1, groups, "one %s mapper on the client", groupsMapperID)
}

func TestRealmHasAdminGroupAndDemoUsers(t *testing.T) {
	r := loadRealm(t)
	require.True(t, slices.ContainsFunc(r.Groups, func(g realmGroup) bool {
		return g.Name == adminGroup && g.Path == "/"+adminGroup
	}), "group %s", adminGroup)

	var admins, organizers int
	for _, u := range r.Users {
		require.True(t, u.Enabled, u.Username)
		require.True(t, u.EmailVerified, u.Username)
		require.Contains(t, u.Email, "@", u.Username)
		require.NotEmpty(t, u.FirstName, u.Username)
		require.NotEmpty(t, u.LastName, u.Username)
		require.Empty(t, u.RequiredActions, u.Username)
		require.Len(t, u.Credentials, 1, u.Username)
		require.Equal(t, "password", u.Credentials[0].Type, u.Username)
		require.NotEmpty(t, u.Credentials[0].Value, u.Username)
		require.False(t, u.Credentials[0].Temporary, "%s: a temporary password would force a change at first login", u.Username)
		if slices.Contains(u.Groups, "/"+adminGroup) {
			admins++
		} else {
			organizers++
		}
	}
	require.GreaterOrEqual(t, admins, 1, "a demo user in /%s", adminGroup)
	require.GreaterOrEqual(t, organizers, 1, "a demo organizer outside the admin group")
	i := slices.IndexFunc(r.Users, func(u realmUser) bool {
		return u.Username == "organizer"
	})
	require.GreaterOrEqual(t, i, 0, "the README promises the user organizer")
	require.Equal(t, "organizer", r.Users[i].Credentials[0].Value, "the README promises organizer/organizer")
}

// --- docker-compose.yml -------------------------------------------------------------------

type composeService struct {
	Image       string         `yaml:"image"`
	Build       map[string]any `yaml:"build"`
	Command     []string       `yaml:"command"`
	Environment map[string]any `yaml:"environment"`
	Ports       []string       `yaml:"ports"`
	Volumes     []string       `yaml:"volumes"`
	NetworkMode string         `yaml:"network_mode"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

type composeProject struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

func loadCompose(t *testing.T) composeProject {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	require.NoError(t, err)
	var p composeProject
	require.NoError(t, yaml.Unmarshal(interpolate(t, data), &p), "docker-compose.yml must be valid YAML in the shape the test expects (map environment, list command)")
	return p
}

// composeVar is compose's variable syntax this file uses: ${NAME} or ${NAME:-default}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// interpolate does what compose does with the variables of the file when none is set in the
// environment: each becomes its default. A variable without a default would become empty,
// which the demo must not depend on, so it fails the test; $$ is a literal $.
func interpolate(t *testing.T, data []byte) []byte {
	t.Helper()
	const escaped = "\x00dollar\x00"
	s := strings.ReplaceAll(string(data), "$$", escaped)
	s = composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		require.Contains(t, m, ":-", "compose variable %s has no default", sub[1])
		return sub[2]
	})
	require.NotContains(t, s, "$", "only ${NAME:-default} variables are expected")
	return []byte(strings.ReplaceAll(s, escaped, "$"))
}

// env returns a service's environment as strings (compose allows numbers and booleans there,
// but the values below are all quoted or strings).
func env(t *testing.T, s composeService) map[string]string {
	t.Helper()
	out := make(map[string]string, len(s.Environment))
	for k, v := range s.Environment {
		str, ok := v.(string)
		require.True(t, ok, "environment %s should be a string (quote booleans and numbers), got %T", k, v)
		out[k] = str
	}
	return out
}

func TestComposeHasTheThreeServices(t *testing.T) {
	p := loadCompose(t)
	require.ElementsMatch(t, []string{"postgres", "keycloak", "webinaire"}, slices.Collect(maps.Keys(p.Services)))
}

func TestComposeWebinaireBuildsFromDeployDockerfile(t *testing.T) {
	w := loadCompose(t).Services["webinaire"]
	require.Equal(t, ".", w.Build["context"])
	require.Equal(t, "deploy/Dockerfile", w.Build["dockerfile"])
	require.Equal(t, "unless-stopped", w.Restart)
	require.Equal(t, "service_healthy", w.DependsOn["postgres"].Condition)
	require.Contains(t, w.DependsOn, "keycloak")
}

func TestComposeWebinaireEnvironmentUsesOnlyDocumentedKeys(t *testing.T) {
	e := env(t, loadCompose(t).Services["webinaire"])
	require.NotEmpty(t, e)
	for name := range e {
		if strings.HasPrefix(name, "WEBINAIRE_") {
			require.Contains(t, documentedEnv, name, "the app refuses unknown WEBINAIRE_ variables")
		}
	}
	require.Equal(t, "development", e["WEBINAIRE_MODE"], "the demo is plain http, which production mode refuses")
	require.Equal(t, "false", e["WEBINAIRE_DEV_IDP_ENABLED"], "logins go through Keycloak")
	require.Equal(t, "0.0.0.0:8080", e["WEBINAIRE_SERVER_LISTEN"])
	require.Equal(t, demoPublicURL, e["WEBINAIRE_SERVER_PUBLIC_URL"])
	require.Equal(t, "postgres", e["WEBINAIRE_DATABASE_DRIVER"])
	db, err := url.Parse(e["WEBINAIRE_DATABASE_URL"])
	require.NoError(t, err)
	require.Equal(t, "postgres", db.Scheme)
	require.Equal(t, "postgres:5432", db.Host, "the database is the postgres service")
}

// TestComposeIssuerIsTheSameForBrowserAndApp checks the arrangement described in the compose
// file and the README: Keycloak names itself http://localhost:8081, publishes that port, and
// the app shares Keycloak's network namespace so that the same URL reaches it from the app.
func TestComposeIssuerIsTheSameForBrowserAndApp(t *testing.T) {
	p := loadCompose(t)
	kc, w := p.Services["keycloak"], p.Services["webinaire"]
	kcEnv, wEnv := env(t, kc), env(t, w)

	hostname := kcEnv["KC_HOSTNAME"]
	require.Equal(t, "http://localhost:8081", hostname)
	require.Equal(t, hostname+"/realms/"+loadRealm(t).Realm, wEnv["WEBINAIRE_OIDC_ISSUER"])

	u, err := url.Parse(hostname)
	require.NoError(t, err)
	require.Equal(t, u.Port(), kcEnv["KC_HTTP_PORT"], "Keycloak listens on the port of its hostname")
	require.Contains(t, kc.Ports, "127.0.0.1:"+u.Port()+":"+u.Port(), "published under the same port")

	require.Equal(t, "service:keycloak", w.NetworkMode, "localhost in the app container must be Keycloak's")
	require.Empty(t, w.Ports, "a service with network_mode cannot publish ports")
	require.Contains(t, kc.Ports, "127.0.0.1:8080:8080", "the app's port, published by the namespace owner")
	require.Contains(t, kc.Ports, "7882:7882/udp")
	require.Contains(t, kc.Ports, "3478:3478/udp")
}

func TestComposeClientMatchesRealm(t *testing.T) {
	w := env(t, loadCompose(t).Services["webinaire"])
	c := webinaireClient(t, loadRealm(t))
	require.Equal(t, c.ClientID, w["WEBINAIRE_OIDC_CLIENT_ID"])
	require.Equal(t, c.Secret, w["WEBINAIRE_OIDC_CLIENT_SECRET"])
	require.Contains(t, c.RedirectURIs, w["WEBINAIRE_SERVER_PUBLIC_URL"]+"/auth/callback")
	require.Equal(t, w["WEBINAIRE_SERVER_PUBLIC_URL"]+"/", c.Attributes["post.logout.redirect.uris"])
}

func TestComposeKeycloakImportsTheRealm(t *testing.T) {
	kc := loadCompose(t).Services["keycloak"]
	require.Regexp(t, regexp.MustCompile(`^quay\.io/keycloak/keycloak:26\.\d+\.\d+$`), kc.Image, "a pinned Keycloak 26 release")
	require.Equal(t, []string{"start-dev", "--import-realm"}, kc.Command)
	require.Contains(t, kc.Volumes, "./deploy/keycloak/webinaire-realm.json:/opt/keycloak/data/import/webinaire-realm.json:ro")
	e := env(t, kc)
	require.NotEmpty(t, e["KC_BOOTSTRAP_ADMIN_USERNAME"])
	require.NotEmpty(t, e["KC_BOOTSTRAP_ADMIN_PASSWORD"])
	require.Equal(t, "true", e["KC_HEALTH_ENABLED"], "the healthcheck probes /health/ready")
	require.Contains(t, strings.Join(kc.Healthcheck.Test, " "), "/health/ready")
}

func TestComposePostgres(t *testing.T) {
	p := loadCompose(t)
	pg := p.Services["postgres"]
	require.Equal(t, "postgres:16", pg.Image)
	require.Contains(t, strings.Join(pg.Healthcheck.Test, " "), "pg_isready")
	require.Contains(t, pg.Volumes, "postgres-data:/var/lib/postgresql/data")
	e := env(t, pg)
	db, err := url.Parse(env(t, p.Services["webinaire"])["WEBINAIRE_DATABASE_URL"])
	require.NoError(t, err)
	require.Equal(t, e["POSTGRES_USER"], db.User.Username())
	require.Equal(t, "/"+e["POSTGRES_DB"], db.Path)
	pass, _ := db.User.Password()
	require.Equal(t, e["POSTGRES_PASSWORD"], pass)
	for _, v := range []string{"postgres-data", "webinaire-data", "webinaire-recordings"} {
		require.Contains(t, p.Volumes, v)
	}
	w := p.Services["webinaire"]
	require.Contains(t, w.Volumes, "webinaire-data:/var/lib/webinaire/data")
	require.Contains(t, w.Volumes, "webinaire-recordings:"+env(t, w)["WEBINAIRE_RECORDINGS_DIR"])
}

// --- Dockerfile -----------------------------------------------------------------------------

type instruction struct {
	Cmd  string // upper-cased keyword
	Args string
}

// parseDockerfile joins continuation lines, drops comments and splits the instructions into
// stages (one per FROM).
func parseDockerfile(t *testing.T) [][]instruction {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	require.NoError(t, err)
	var stages [][]instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			stages = append(stages, nil)
		}
		require.NotEmpty(t, stages, "instruction %s before the first FROM", in.Cmd)
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestDockerfileBuildStage(t *testing.T) {
	stages := parseDockerfile(t)
	require.Len(t, stages, 2, "a build stage and a runtime stage")
	build := stages[0]
	require.Regexp(t, `golang:1\.26(-bookworm)?\b.* AS build$`, build[0].Args)
	var gobuild []string
	for _, in := range find(build, "RUN") {
		if strings.Contains(in.Args, "go build") {
			gobuild = append(gobuild, in.Args)
		}
	}
	require.Len(t, gobuild, 1)
	require.Contains(t, gobuild[0], "CGO_ENABLED=0")
	require.Contains(t, gobuild[0], "-trimpath")
	require.Contains(t, gobuild[0], `-ldflags="-s -w"`)
	require.Regexp(t, `-o /out/webinaire \./cmd/webinaire$`, gobuild[0])
}

func TestDockerfileRuntimeStageIsMinimalAndNonRoot(t *testing.T) {
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	require.Equal(t, "debian:bookworm-slim", final[0].Args)
	// ffmpeg, which builds the replays and encodes the broadcasts, from Debian's packages,
	// without what it recommends; the package lists do not stay in the image.
	runs := find(final, "RUN")
	require.Len(t, runs, 1, "one layer of packages and the user")
	require.Contains(t, runs[0].Args, "apt-get install -y --no-install-recommends ffmpeg")
	require.Contains(t, runs[0].Args, "rm -rf /var/lib/apt/lists/*")
	require.Contains(t, runs[0].Args, "--uid 65532")

	users := find(final, "USER")
	require.NotEmpty(t, users, "the final stage sets USER")
	user := users[len(users)-1].Args
	name, _, _ := strings.Cut(user, ":")
	require.NotContains(t, []string{"", "root", "0"}, name, "the final USER must not be root")

	require.Equal(t, []instruction{{"WORKDIR", "/var/lib/webinaire"}}, find(final, "WORKDIR"))
	require.Equal(t, []instruction{{"EXPOSE", "8080"}}, find(final, "EXPOSE"))
	require.Equal(t, []instruction{{"ENTRYPOINT", `["/usr/local/bin/webinaire"]`}}, find(final, "ENTRYPOINT"))
	require.Equal(t, []instruction{{"CMD", `["serve"]`}}, find(final, "CMD"))
	require.Empty(t, find(final, "HEALTHCHECK"), "the image has no HTTP client to run a healthcheck")

	vols := find(final, "VOLUME")
	require.Len(t, vols, 1)
	require.Contains(t, vols[0].Args, `"/var/lib/webinaire/data"`)

	var envs []string
	for _, in := range find(final, "ENV") {
		envs = append(envs, strings.Fields(in.Args)...)
	}
	require.Contains(t, envs, "WEBINAIRE_SERVER_LISTEN=0.0.0.0:8080")
	for _, kv := range envs {
		name, _, _ := strings.Cut(kv, "=")
		require.Contains(t, documentedEnv, name)
	}
}

func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(dockerignore)
	require.NoError(t, err)
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, p := range []string{".git", "data", "node_modules", "docs/screenshots"} {
		require.Contains(t, patterns, p)
	}
	// What the build needs must stay in the context.
	for _, p := range []string{"go.mod", "go.sum", "cmd", "*.go", "**/*.go", "deploy"} {
		require.NotContains(t, patterns, p)
	}
}

func TestCaddyfileProxiesToTheApp(t *testing.T) {
	data, err := os.ReadFile(caddyfile)
	require.NoError(t, err)
	s := string(data)
	require.Contains(t, s, "reverse_proxy 127.0.0.1:8080")
	require.Contains(t, s, "header_up X-Forwarded-Proto {scheme}")
	require.Contains(t, s, "WEBINAIRE_SERVER_TRUSTED_PROXIES=")
	require.Contains(t, s, "WEBINAIRE_MODE=production")
}
