package wflo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// everyByte is each byte value once, NUL and 0xff included: what a JSON detour would mangle.
func everyByte() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// largeState is 100 KB that does not compress to nothing (a linear congruential sequence), so
// the store's compression has real work to undo.
func largeState() []byte {
	b := make([]byte, 100*1024)
	x := uint32(12345)
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = byte(x >> 16)
	}
	return b
}

func TestBinaryCheckpointStatesComeBackByteForByte(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "binary-states")
	if _, err := x.Checkpoint("plan", map[string]any{"step": 1}); err != nil {
		t.Fatal(err)
	}
	all, err := x.CheckpointBinary("all-bytes", "application/octet-stream", everyByte())
	if err != nil {
		t.Fatal(err)
	}
	if all.ContentType != "application/octet-stream" || all.StateBytes != 256 || all.Name != "all-bytes" {
		t.Fatalf("info of the every-byte state: %+v", all)
	}
	big, err := x.CheckpointBinary("big", "application/msgpack", largeState())
	if err != nil {
		t.Fatal(err)
	}
	if big.ContentType != "application/msgpack" || big.StateBytes != 100*1024 {
		t.Fatalf("info of the large state: %+v", big)
	}

	latest, err := x.LatestCheckpointAny()
	if err != nil {
		t.Fatal(err)
	}
	if !latest.IsBinary() || latest.ContentType != "application/msgpack" || !bytes.Equal(latest.Data, largeState()) || latest.JSON != nil {
		t.Fatalf("latest: binary %v, %q, %d bytes", latest.IsBinary(), latest.ContentType, len(latest.Data))
	}
	byID, err := x.CheckpointStateAny(all.ID)
	if err != nil {
		t.Fatal(err)
	}
	if byID.ContentType != "application/octet-stream" || !bytes.Equal(byID.Data, everyByte()) {
		t.Fatalf("by id: %q % x", byID.ContentType, byID.Data)
	}

	// Rolling back to the every-byte state supersedes the large one, whose bytes stay readable.
	back, err := x.RollbackToCheckpointAny("all-bytes")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Data, everyByte()) || back.ContentType != "application/octet-stream" {
		t.Fatalf("rollback: %q % x", back.ContentType, back.Data)
	}
	if latest, err = x.LatestCheckpointAny(); err != nil || !bytes.Equal(latest.Data, everyByte()) {
		t.Fatalf("latest after the rollback: %d bytes, %v", len(latest.Data), err)
	}
	if old, err := x.CheckpointStateAny(big.ID); err != nil || !bytes.Equal(old.Data, largeState()) {
		t.Fatalf("superseded large state: %d bytes, %v", len(old.Data), err)
	}

	// A JSON state through the same calls: JSON set, no content type, no data.
	plan, err := x.RollbackToCheckpointAny("plan")
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]int
	if plan.IsBinary() || plan.Data != nil || json.Unmarshal(plan.JSON, &decoded) != nil || decoded["step"] != 1 {
		t.Fatalf("JSON state: %+v", plan)
	}

	// An empty binary state is empty bytes, still binary.
	if _, err := x.CheckpointBinary("empty", "application/x-empty", nil); err != nil {
		t.Fatal(err)
	}
	empty, err := x.LatestCheckpointAny()
	if err != nil || !empty.IsBinary() || empty.Data == nil || len(empty.Data) != 0 {
		t.Fatalf("empty state: %+v %v", empty, err)
	}

	list, err := x.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	types := []string{}
	for _, c := range list {
		types = append(types, c.ContentType)
	}
	if got := strings.Join(types, ","); got != ",application/octet-stream,application/msgpack,application/x-empty" {
		t.Fatalf("content types listed: %q", got)
	}
}

func TestJSONOnlyCallsRefuseABinaryStateAndChangeNothing(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "json-only")
	if _, err := x.CheckpointBinary("graph", "application/msgpack", []byte{0x81, 0x00, 0xff}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Checkpoint("after", []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	before, err := x.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}

	_, err = x.RollbackToCheckpoint("graph")
	var typed *wflo.Error
	if !errors.As(err, &typed) || typed.Code != wflo.CodeInvalidArgument || !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("want a typed INVALID_ARGUMENT, got %#v", err)
	}
	if !strings.Contains(typed.Message, "application/msgpack") {
		t.Fatalf("the refusal should name the content type: %q", typed.Message)
	}
	after, err := x.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) || after[1].Superseded {
		t.Fatalf("the refused rollback changed the checkpoints:\n%+v\n%+v", before, after)
	}
	latest, err := x.LatestCheckpoint()
	if err != nil || string(latest) != "[1,2]" {
		t.Fatalf("latest after the refusal: %s %v", latest, err)
	}

	// The other JSON-only read refuses a binary latest state the same way.
	if _, err := x.RollbackToCheckpointAny("graph"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.LatestCheckpoint(); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("LatestCheckpoint of a binary state: %v", err)
	}
}

func TestABadContentTypeIsRefused(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "content-types")
	for _, ct := range []string{"", "application/ms pack", "text/plain\n", "application/é", strings.Repeat("a", 256)} {
		if _, err := x.CheckpointBinary("state", ct, []byte{1, 2, 3}); !errors.Is(err, wflo.ErrInvalidArgument) {
			t.Errorf("content type %q: want ErrInvalidArgument, got %v", ct, err)
		}
	}
	if list, err := x.Checkpoints(); err != nil || len(list) != 0 {
		t.Fatalf("a refused save left %d checkpoint(s) (%v)", len(list), err)
	}
	if _, err := x.CheckpointBinary("state", strings.Repeat("a", 255), nil); err != nil {
		t.Fatalf("255 characters are allowed: %v", err)
	}
	if _, err := x.LatestCheckpointAny(); err != nil {
		t.Fatal(err)
	}
	if _, err := x.CheckpointStateAny(1 << 40); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("unknown checkpoint id: %v", err)
	}
}

func TestBytesWithoutAContentTypeAreNamedByTheEngine(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "untyped")
	info, err := x.CheckpointBytes("raw", everyByte())
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "application/octet-stream" || info.StateBytes != 256 {
		t.Fatalf("info: %+v", info)
	}
	state, err := x.LatestCheckpointAny()
	if err != nil {
		t.Fatal(err)
	}
	if state.ContentType != "application/octet-stream" || !bytes.Equal(state.Data, everyByte()) {
		t.Fatalf("latest: %q % x", state.ContentType, state.Data)
	}
	// An empty content type given to CheckpointBinary is a mistake, not an omission.
	if _, err := x.CheckpointBinary("empty", "", everyByte()); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("an empty content type: %v", err)
	}
}

func TestCheckpointsSinceReadsWhatIsNewAndCountsRollbacksMadeElsewhere(t *testing.T) {
	db := filepath.Join(t.TempDir(), "since.db")
	e, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x := startExecution(t, e, "since")
	names := func(list []wflo.CheckpointInfo) string {
		var out []string
		for _, c := range list {
			out = append(out, fmt.Sprintf("%s#%d%s", c.Name, c.Sequence, map[bool]string{true: "(superseded)"}[c.Superseded]))
		}
		return strings.Join(out, ",")
	}
	since := func(after uint64) ([]wflo.CheckpointInfo, uint64) {
		t.Helper()
		list, rollbacks, err := x.CheckpointsSince(after)
		if err != nil {
			t.Fatal(err)
		}
		return list, rollbacks
	}
	if list, n := since(0); len(list) != 0 || n != 0 {
		t.Fatalf("a fresh execution: %s, %d rollbacks", names(list), n)
	}
	if _, err := x.Checkpoint("a", map[string]int{"step": 1}); err != nil {
		t.Fatal(err)
	}
	b, err := x.CheckpointBinary("b", "application/msgpack", []byte{0x81})
	if err != nil {
		t.Fatal(err)
	}
	if list, n := since(0); names(list) != "a#1,b#2" || n != 0 {
		t.Fatalf("since 0: %s, %d rollbacks", names(list), n)
	}
	// A save after the sequence a reader saw is all it reads.
	c, err := x.Checkpoint("c", map[string]int{"step": 3})
	if err != nil {
		t.Fatal(err)
	}
	if list, n := since(b.Sequence); names(list) != "c#3" || n != 0 {
		t.Fatalf("since b: %s, %d rollbacks", names(list), n)
	}

	// A rollback made by another engine on the same store (another process, as far as this
	// one can tell) shows in the count.
	other, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	y, err := other.ResumeExecution(x.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y.RollbackToCheckpointAny("b"); err != nil {
		t.Fatal(err)
	}
	y.Close()
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if list, n := since(0); names(list) != "a#1,b#2,c#3(superseded)" || n != 1 {
		t.Fatalf("after the rollback: %s, %d rollbacks", names(list), n)
	}
	// Beyond the end: nothing, and the count still.
	for _, after := range []uint64{c.Sequence, 1000} {
		if list, n := since(after); len(list) != 0 || n != 1 {
			t.Fatalf("since %d: %s, %d rollbacks", after, names(list), n)
		}
	}
}

func TestCheckpointsSinceWithStateEqualsTheSeparateCalls(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "since-with-state")
	plan, err := x.Checkpoint("plan", map[string]any{"step": 1, "todo": []string{"search", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	packed, err := x.CheckpointBinary("packed", "application/msgpack", everyByte())
	if err != nil {
		t.Fatal(err)
	}
	// After the rollback "packed" is superseded and the count is 1: both must show, and the
	// superseded binary state must still read byte for byte.
	if _, err := x.RollbackToCheckpointAny("plan"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{plan.ID, packed.ID} {
		for _, after := range []uint64{0, plan.Sequence, packed.Sequence} {
			list, rollbacks, state, err := x.CheckpointsSinceWithState(after, id)
			if err != nil {
				t.Fatalf("id %d after %d: %v", id, after, err)
			}
			wantList, wantRollbacks, err := x.CheckpointsSince(after)
			if err != nil {
				t.Fatal(err)
			}
			wantState, err := x.CheckpointStateAny(id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(list, wantList) || rollbacks != wantRollbacks || rollbacks != 1 {
				t.Fatalf("id %d after %d: %+v, %d rollbacks; separately %+v, %d", id, after, list, rollbacks, wantList, wantRollbacks)
			}
			if !reflect.DeepEqual(state, wantState) {
				t.Fatalf("id %d after %d: state %+v, separately %+v", id, after, state, wantState)
			}
		}
	}
	_, _, state, err := x.CheckpointsSinceWithState(0, packed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if state.ContentType != "application/msgpack" || !bytes.Equal(state.Data, everyByte()) || state.JSON != nil {
		t.Fatalf("the binary state: %q % x", state.ContentType, state.Data)
	}
	_, _, state, err = x.CheckpointsSinceWithState(0, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if state.IsBinary() || string(state.JSON) != `{"step":1,"todo":["search","write"]}` {
		t.Fatalf("the JSON state: %+v", state)
	}

	list, rollbacks, state, err := x.CheckpointsSinceWithState(0, 1000)
	var we *wflo.Error
	if !errors.Is(err, wflo.ErrNotFound) || !errors.As(err, &we) || we.Code != wflo.CodeNotFound {
		t.Fatalf("an unknown id: want NOT_FOUND, got %v", err)
	}
	if list != nil || rollbacks != 0 || !reflect.DeepEqual(state, wflo.CheckpointState{}) {
		t.Fatalf("an unknown id returned %+v, %d, %+v", list, rollbacks, state)
	}
}

func TestNoLatestCheckpointIsNotFound(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "no-checkpoints")
	if _, err := x.LatestCheckpointAny(); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if _, err := x.RollbackToCheckpointAny("never"); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

// A workflow whose state is already bytes in its own format (msgpack here) checkpoints them
// as they are, and gets them back from a rollback of either kind of state.
func ExampleExecution_CheckpointBinary() {
	engine, err := wflo.Open("memory://")
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	exec, err := engine.StartExecution(wflo.ExecutionOptions{Name: "graph-agent"})
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()

	packed := []byte{0x81, 0xa4, 's', 't', 'e', 'p', 0x02} // msgpack {"step": 2}
	info, err := exec.CheckpointBinary("planned", "application/msgpack", packed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Name, info.ContentType, info.StateBytes)

	state, err := exec.RollbackToCheckpointAny("planned")
	if err != nil {
		log.Fatal(err)
	}
	if state.IsBinary() {
		fmt.Printf("%s % x\n", state.ContentType, state.Data)
	} else {
		fmt.Println("JSON", string(state.JSON))
	}
	// Output:
	// planned application/msgpack 7
	// application/msgpack 81 a4 73 74 65 70 02
}
