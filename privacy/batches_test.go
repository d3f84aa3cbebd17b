package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBatchesDryRunFindsWhatTheRunDeletes runs the sweeps' loop over a list of keys with a
// batch size of 2, for real and dry, and checks that both go through the same batches, that
// the dry run deletes nothing and that both report the same.
func TestBatchesDryRunFindsWhatTheRunDeletes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var trace []string
			var rows []int
			for i := range n {
				rows = append(rows, i+1)
			}
			b := batches[int]{
				sweep: "test", step: "rows", category: "c", rule: "r",
				find: func(_ context.Context, after *int, limit int) ([]int, error) {
					from := 0
					if after != nil {
						from = *after
					}
					var out []int
					for _, r := range rows {
						if r > from && len(out) < limit {
							out = append(out, r)
						}
					}
					trace = append(trace, fmt.Sprintf("find after %d: %v", from, out))
					return out, nil
				},
				delete: func(_ context.Context, p *Pass, _ *int, batch []int) ([]int, error) {
					require.False(t, p.DryRun, "a dry run deletes nothing")
					rows = slices.DeleteFunc(rows, func(r int) bool { return slices.Contains(batch, r) })
					return batch, nil
				},
				name: func(keys []int) []string { return []string{fmt.Sprintf("batch %d-%d", keys[0], keys[len(keys)-1])} },
			}
			pass := func(dry bool) (Report, []string) {
				trace = nil
				rep := &Report{}
				p := &Pass{DryRun: dry, BatchSize: 2, report: rep}
				if !dry {
					p.step = func(_ context.Context, sweep, step string) error {
						trace = append(trace, "step "+sweep+"/"+step)
						return nil
					}
				}
				require.NoError(t, b.run(context.Background(), p))
				return *rep, trace
			}
			plan, planned := pass(true)
			require.Len(t, rows, n, "the plan deleted nothing")
			rep, ran := pass(false)
			require.Empty(t, rows, "the run deleted everything")
			require.Equal(t, plan, rep, "the run reports what the plan found")
			require.Equal(t, int64(n), rep.Categories[0].Count)
			require.Len(t, rep.Categories[0].IDs, (n+1)/2, "one name per batch")
			var finds []string
			for _, line := range ran {
				if line != "step test/rows" {
					finds = append(finds, line)
				}
			}
			require.Equal(t, planned, finds, "the same finds, with the same keys, in the same order")
			require.Len(t, ran, len(planned)+(n+1)/2, "a step after each batch of the run")
		})
	}
}

func TestBatchesStopAtTheFirstError(t *testing.T) {
	crash := errors.New("crash")
	finds := 0
	b := batches[int]{
		sweep: "test", step: "rows", category: "c", rule: "r",
		find: func(_ context.Context, _ *int, _ int) ([]int, error) {
			finds++
			return []int{finds*2 - 1, finds * 2}, nil
		},
		delete: func(_ context.Context, _ *Pass, _ *int, batch []int) ([]int, error) { return batch, nil },
		name:   func(keys []int) []string { return []string{fmt.Sprint(keys)} },
	}
	rep := &Report{}
	p := &Pass{BatchSize: 2, report: rep, step: func(context.Context, string, string) error { return crash }}
	require.ErrorIs(t, b.run(context.Background(), p), crash)
	require.Equal(t, 1, finds, "no batch after the step that failed")
	require.Equal(t, []CategoryReport{{Category: "c", Rule: "r", Count: 2, IDs: []string{"[1 2]"}}}, rep.Categories,
		"the batch committed before the failed step is reported")
}
