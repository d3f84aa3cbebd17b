package api

import (
	"context"
	"fmt"

	"webinaire/recording"
	"webinaire/store"
)

// recordingRows keeps the recording manager's rows in the store.
type recordingRows struct{ st *store.Store }

var _ recording.Rows = recordingRows{}

// storeStates are the words the store keeps each state of a recording as.
var storeStates = map[recording.State]string{
	recording.StateRecording:  store.RecordingActive,
	recording.StateFinalizing: store.RecordingFinalizing,
	recording.StateReady:      store.RecordingReady,
	recording.StateFailed:     store.RecordingFailed,
}

// stateOf is the state the store keeps as word.
func stateOf(word string) recording.State {
	for s, w := range storeStates {
		if w == word {
			return s
		}
	}
	return recording.State(word)
}

func (r recordingRows) Create(ctx context.Context, row recording.Row) (recording.Row, error) {
	created, err := r.st.CreateRecording(ctx, row.WebinarID, row.NodeID, row.StartedAt, row.ExpiresAt)
	return rowOf(created), err
}

func (r recordingRows) Finish(ctx context.Context, row recording.Row) error {
	return r.st.FinishRecording(ctx, recordingOf(row))
}

func (r recordingRows) InState(ctx context.Context, node string, state recording.State) ([]recording.Row, error) {
	word, ok := storeStates[state]
	if !ok {
		return nil, fmt.Errorf("recordings in state %q: no such state", state)
	}
	list, err := r.st.RecordingsInState(ctx, node, word)
	rows := make([]recording.Row, 0, len(list))
	for _, rec := range list {
		rows = append(rows, rowOf(rec))
	}
	return rows, err
}

// rowOf is a stored recording as the manager sees it.
func rowOf(r store.Recording) recording.Row {
	return recording.Row{
		ID: r.ID, WebinarID: r.WebinarID, NodeID: r.NodeID, State: stateOf(r.State),
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, DurationMS: r.DurationMS, SizeBytes: r.SizeBytes,
		SHA256: r.SHA256, ExpiresAt: r.ExpiresAt, Error: r.Error,
	}
}

// recordingOf is a manager's row as the store keeps it.
func recordingOf(r recording.Row) store.Recording {
	return store.Recording{
		ID: r.ID, WebinarID: r.WebinarID, NodeID: r.NodeID, State: storeStates[r.State],
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, DurationMS: r.DurationMS, SizeBytes: r.SizeBytes,
		SHA256: r.SHA256, ExpiresAt: r.ExpiresAt, Error: r.Error,
	}
}
