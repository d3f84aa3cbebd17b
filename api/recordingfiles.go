package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"webinaire/recording"
	"webinaire/store"
)

// A recording's files are written and finalized in the local folder of the node that
// records it (its row's node_id), and kept there unless the storage is S3. A node asked
// for a recording whose files it does not have (its manifest, to list them, or a file, to
// play or download it) asks the recording's node, over that node's internal endpoint, with
// a file token signed with the cluster's shared key: the request is authorized where it
// arrived (the owner's session, a share link), and the recording's node serves the file
// from its folder, ranges included, through the node that was asked.

// recordingFilesPath is where a node asks another for a file of a recording it keeps:
// GET /internal/v1/recordings/{recording}/files/{file}, the file token as bearer.
const recordingFilesPath = "/internal/v1/recordings/"

// recordingFilePurpose keys the MAC of file tokens: they are neither join, relay nor
// command tokens.
const recordingFilePurpose = "webinaire-recording-file-v1."

var (
	errFileToken = problem(http.StatusUnauthorized, "file_token", "a valid file token is required")
	// errRecordingNodeDown is a recording whose files are on a node that does not answer.
	errRecordingNodeDown = problem(http.StatusServiceUnavailable, "recording_node_unavailable", "this recording's files are kept by a server of the cluster that does not answer now; try again later")
)

// fileClaims are the claims of a file token, a file of a recording asked of a node, and of
// a deletion token, every file of a recording.
type fileClaims struct {
	Recording string `json:"recording"`
	// File is the file asked for; empty in a deletion token.
	File string `json:"file,omitempty"`
	// Node is the node that must serve it.
	Node string `json:"node"`
	// Expiry, in Unix seconds.
	Expiry int64 `json:"exp"`
	// Nonce makes each token unique: the node that serves it serves it once.
	Nonce string `json:"nonce"`
}

// manifest reads the list of a recording's files, wherever the storage keeps them: here,
// or on the node that recorded it.
func (s *Server) manifest(r store.Recording) (recording.Manifest, error) {
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	m, _, err := s.recordingManifest(ctx, r)
	return m, err
}

// recordingManifest reads r's manifest here, or else from the node that recorded it:
// node is that node when the files are there, the zero Node when they are here.
func (s *Server) recordingManifest(ctx context.Context, r store.Recording) (m recording.Manifest, node store.Node, err error) {
	m, err = s.p.Recordings.Manifest(ctx, r.ID)
	if err == nil || !s.keptElsewhere(r) {
		return m, node, err
	}
	node, nodeErr := s.recordingNode(ctx, r)
	if nodeErr != nil {
		return m, node, errors.Join(err, nodeErr)
	}
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	resp, err := s.askRecordingFile(ctx, node, r.ID, recording.ManifestName)
	if err != nil {
		return m, node, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, node, fmt.Errorf("manifest of recording %s from node %s: status %d", r.ID, node.ID, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return m, node, fmt.Errorf("manifest of recording %s from node %s: %w", r.ID, node.ID, err)
	}
	return m, node, nil
}

// keptElsewhere tells whether r's files may be on another node than this one: it was
// recorded there.
func (s *Server) keptElsewhere(r store.Recording) bool {
	return s.p.Cluster != nil && r.NodeID != "" && r.NodeID != s.nodeID()
}

// recordingNode is the node that recorded r, as the cluster knows it now; errRecordingNodeDown
// when it has left the cluster.
func (s *Server) recordingNode(ctx context.Context, r store.Recording) (store.Node, error) {
	n, err := s.p.Store.NodeByID(ctx, r.NodeID)
	if errors.Is(err, store.ErrNotFound) {
		return n, errRecordingNodeDown
	}
	return n, err
}

// askRecordingFile asks node for a file of recording id; the caller closes the answer's
// body.
func (s *Server) askRecordingFile(ctx context.Context, node store.Node, id, file string) (*http.Response, error) {
	req, err := s.recordingFileRequest(ctx, node, id, file)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRecordingNodeDown, err)
	}
	return resp, nil
}

// recordingFileRequest is the request for a file of recording id to node's internal
// endpoint, with its file token.
func (s *Server) recordingFileRequest(ctx context.Context, node store.Node, id, file string) (*http.Request, error) {
	token, err := s.p.Tokens.SignFor(recordingFilePurpose, fileClaims{Recording: id, File: file, Node: node.ID, Expiry: s.now().Add(commandLifetime).Unix(), Nonce: rand.Text()})
	if err != nil {
		return nil, err
	}
	req, err := nodeRequest(ctx, http.MethodGet, node, recordingFilesPath+url.PathEscape(id)+"/files/"+url.PathEscape(file), token)
	if err != nil {
		return nil, fmt.Errorf("file of recording %s from node %s: %w", id, node.ID, err)
	}
	return req, nil
}

// proxiedFileHeaders are the headers of a file's answer that come back from the
// recording's node; the others (security headers, cookies) are this node's own.
var proxiedFileHeaders = []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "Retry-After"}

// passRecordingFile answers c with file of recording id as node serves it: the client's
// ranges and conditions go there, the answer comes back as it is given, for as long as
// the client reads it.
func (s *Server) passRecordingFile(c *gin.Context, node store.Node, id, file string) {
	out, err := s.recordingFileRequest(c.Request.Context(), node, id, file)
	if err != nil {
		s.fail(c, err)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL, pr.Out.Host = out.URL, out.URL.Host
			// Only what says which bytes: no cookie or session of the client goes on.
			h := http.Header{"Authorization": out.Header["Authorization"]}
			for _, k := range []string{"Range", "If-Range", "If-Modified-Since", "If-Unmodified-Since"} {
				if v := pr.In.Header.Values(k); len(v) > 0 {
					h[k] = v
				}
			}
			pr.Out.Header = h
		},
		ModifyResponse: func(resp *http.Response) error {
			kept := http.Header{}
			for _, k := range proxiedFileHeaders {
				if v := resp.Header.Values(k); len(v) > 0 {
					kept[k] = v
				}
			}
			resp.Header = kept
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
			s.log.Warn("recording file not passed on from its node", "recording", id, "node", node.ID, "err", err)
			c.Header("Retry-After", "5")
			writeProblem(c, errRecordingNodeDown)
		},
	}
	c.Header("Cache-Control", "private, no-store")
	proxy.ServeHTTP(s.longAnswer(c.Writer), c.Request)
}

// recordingFileHandler serves another node a file of a recording kept here, as its file
// token names it.
func (s *Server) recordingFileHandler(c *gin.Context) {
	claims, ok := s.fileToken(c, recordingFilePurpose)
	if !ok {
		return
	}
	s.serveLocalRecordingFile(c, claims.Recording, claims.File)
}

// fileToken reads and spends the token of c, another node's request about a recording
// kept here: made under purpose (a file or a deletion token), for this node, and for the
// recording and file of the path (no file for a deletion). False when it is not good: c
// is answered.
func (s *Server) fileToken(c *gin.Context, purpose string) (fileClaims, bool) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	var claims fileClaims
	if !ok || s.p.Cluster == nil || s.p.Tokens.VerifyFor(purpose, token, &claims) != nil ||
		claims.Recording != c.Param("recording") || claims.File != c.Param("file") || claims.Node != s.nodeID() ||
		!s.spendNodeToken(token, claims.Nonce, claims.Expiry) {
		writeProblem(c, errFileToken)
		return claims, false
	}
	return claims, true
}
