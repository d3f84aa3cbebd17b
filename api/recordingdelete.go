package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
)

// A recording deleted through any node (by its owner, with its webinar or its account, by
// the retention sweeps) is deleted where its files are: a node whose storage does not keep
// them (no S3, the recording made by another node) asks the recording's node to delete
// them, over that node's internal endpoint, with a deletion token signed with the
// cluster's shared key, and only then deletes the row and writes the ledger entry. When
// that node does not answer, nothing is deleted: the recording is left for later.

// recordingDeletePurpose keys the MAC of deletion tokens: they are neither file, join,
// relay nor command tokens.
const recordingDeletePurpose = "webinaire-recording-delete-v1."

// RecordingFilesParams configure RecordingFiles.
type RecordingFilesParams struct {
	// Storage is this node's recording storage (recording.Folder or recording.S3).
	// Required.
	Storage recording.Storage
	// Store is the database the nodes share. Required.
	Store *store.Store
	// Tokens signs the deletion tokens with the cluster's shared key
	// (media.token_key_file). Required with Node.
	Tokens *sfu.TokenSigner
	// Node is this node's id (cluster.node_id); empty when there is no cluster: every
	// recording's files are then in Storage.
	Node string
	// NodeTimeout is how old a node's last heartbeat may be before it is gone; 0 means
	// DefaultNodeTimeout.
	NodeTimeout time.Duration
	// Now tells the time; nil is the system clock.
	Now func() time.Time
}

// RecordingFiles is this node's recording storage, whose deletions reach the files of
// the recordings that other nodes keep in their own folders: it is what the retention
// sweeps and the rights of the person delete recordings' files with
// (privacy.RecordingStorage). Listing and reading stay this node's storage's.
type RecordingFiles struct {
	recording.Storage
	p RecordingFilesParams
	// shared: every node reads and deletes the finished recordings in Storage (S3).
	shared bool
}

// NewRecordingFiles returns the recording files p describes.
func NewRecordingFiles(p RecordingFilesParams) (*RecordingFiles, error) {
	if p.Storage == nil || p.Store == nil || (p.Node != "" && p.Tokens == nil) {
		return nil, errors.New("new recording files: storage, store, and the token signer of a node are required")
	}
	p.NodeTimeout = cmp.Or(p.NodeTimeout, DefaultNodeTimeout)
	if p.Now == nil {
		p.Now = time.Now
	}
	_, shared := p.Storage.(*recording.S3)
	return &RecordingFiles{Storage: p.Storage, p: p, shared: shared}, nil
}

// FolderNode is the node whose own folder keeps the recordings this storage lists: this
// node, in a cluster whose nodes keep their recordings each in its own folder; empty when
// the storage holds every node's (S3), or there is no cluster.
func (f *RecordingFiles) FolderNode() string {
	if f.shared {
		return ""
	}
	return f.p.Node
}

// DeleteRecording deletes the files of recording id where they are: in this node's
// storage, or, when they are kept in the local folder of the other node that recorded
// it, on that node, which this one asks. Files already gone are not an error. An error
// wrapping privacy.ErrFilesUnreachable means that node does not answer now (stopped, its
// heartbeat late, or gone from the cluster).
func (f *RecordingFiles) DeleteRecording(ctx context.Context, id string) error {
	node, err := f.keeper(ctx, id)
	if err != nil {
		return err
	}
	if node == "" {
		return f.Storage.DeleteRecording(ctx, id)
	}
	return f.deleteOn(ctx, node, id)
}

// keeper is the other node whose folder keeps the files of recording id; empty when they
// are in this node's storage, or nowhere.
func (f *RecordingFiles) keeper(ctx context.Context, id string) (string, error) {
	if f.FolderNode() == "" {
		return "", nil
	}
	r, err := f.p.Store.RecordingByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil // no row names them: an orphan's files are where they are found
	case err != nil:
		return "", fmt.Errorf("node of recording %s: %w", id, err)
	case r.NodeID == "" || r.NodeID == f.p.Node:
		return "", nil
	}
	// Here all the same (this node was renamed): they are deleted here.
	modified, err := f.Storage.Modified(ctx, id)
	if err != nil {
		return "", err
	}
	if !modified.IsZero() {
		return "", nil
	}
	return r.NodeID, nil
}

// deleteOn asks node nodeID to delete the files of recording id, which it keeps.
func (f *RecordingFiles) deleteOn(ctx context.Context, nodeID, id string) error {
	n, err := f.p.Store.NodeByID(ctx, nodeID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("files of recording %s on node %s, not in the cluster: %w", id, nodeID, privacy.ErrFilesUnreachable)
	case err != nil:
		return fmt.Errorf("node of recording %s: %w", id, err)
	case f.p.Now().Sub(n.HeartbeatAt) > f.p.NodeTimeout:
		return fmt.Errorf("files of recording %s on node %s, silent since %s: %w", id, nodeID, n.HeartbeatAt.UTC().Format(time.RFC3339), privacy.ErrFilesUnreachable)
	}
	token, err := f.p.Tokens.SignFor(recordingDeletePurpose, fileClaims{
		Recording: id, Node: n.ID, Expiry: f.p.Now().Add(commandLifetime).Unix(), Nonce: rand.Text(),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	req, err := nodeRequest(ctx, http.MethodDelete, n, recordingFilesPath+url.PathEscape(id)+"/files", token)
	if err != nil {
		return fmt.Errorf("delete files of recording %s on node %s: %w", id, n.ID, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("delete files of recording %s on node %s: %w: %w", id, n.ID, privacy.ErrFilesUnreachable, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // a problem, if any; the status says it
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil
	case http.StatusServiceUnavailable:
		return fmt.Errorf("delete files of recording %s on node %s: status %d: %w", id, n.ID, resp.StatusCode, privacy.ErrFilesUnreachable)
	}
	return fmt.Errorf("delete files of recording %s on node %s: status %d", id, n.ID, resp.StatusCode)
}

// recordingDeleteHandler deletes, for another node, the files of a recording kept here,
// as its deletion token names it.
func (s *Server) recordingDeleteHandler(c *gin.Context) {
	claims, ok := s.fileToken(c, recordingDeletePurpose)
	if !ok {
		return
	}
	if err := s.p.Recordings.DeleteRecording(c.Request.Context(), claims.Recording); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("recording files deleted for another node", "recording", claims.Recording)
	c.Status(http.StatusNoContent)
}
