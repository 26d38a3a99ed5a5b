package wflo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func TestLangGraphPutThenGetComesBackByteForByte(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "langgraph")
	saver := wflo.NewLangGraphCheckpointer()
	defer saver.Close()

	checkpoint := []byte(`{"v":4,"id":"c1"}`)
	metadata := []byte(`{"step":0}`)
	channel := everyByte() // LangGraph's serialised bytes, NUL and 0xff included
	request, err := json.Marshal(map[string]any{
		"op": "put", "thread": "t/1", "ns": "", "id": "c1", "parent": nil,
		"checkpoint": 0, "metadata": 1,
		"channels": [][]any{{"a", "1", 2}},
		"versions": map[string]string{"a": "1"},
		"values":   [][]any{{"json", len(checkpoint)}, {"json", len(metadata)}, {"msgpack", len(channel)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	values := append(append(append([]byte{}, checkpoint...), metadata...), channel...)
	answer, answerValues, err := saver.Call(x, request, values)
	if err != nil {
		t.Fatal(err)
	}
	if string(answer) != "null" || answerValues != nil {
		t.Fatalf("a put's answer: %s, %d value bytes", answer, len(answerValues))
	}

	answer, answerValues, err = saver.Call(x, []byte(`{"op":"get","thread":"t/1","ns":"","id":null}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Thread        string   `json:"thread"`
		ID            string   `json:"id"`
		Parent        *string  `json:"parent"`
		Checkpoint    int      `json:"checkpoint"`
		Metadata      int      `json:"metadata"`
		ChannelValues [][]any  `json:"channel_values"`
		PendingWrites [][]any  `json:"pending_writes"`
		RawValues     [][2]any `json:"values"`
	}
	if err := json.Unmarshal(answer, &got); err != nil {
		t.Fatalf("a get's answer %s: %v", answer, err)
	}
	if got.Thread != "t/1" || got.ID != "c1" || got.Parent != nil || len(got.ChannelValues) != 1 ||
		len(got.PendingWrites) != 0 || len(got.RawValues) != 3 {
		t.Fatalf("a get's answer: %s", answer)
	}
	// Split the bytes by the listed lengths; each value comes back as it was put.
	split := map[int][]byte{}
	at := 0
	for i, v := range got.RawValues {
		n := int(v[1].(float64))
		if at+n > len(answerValues) {
			t.Fatalf("the answer lists more bytes than it gives: %s, %d bytes", answer, len(answerValues))
		}
		split[i] = answerValues[at : at+n]
		at += n
	}
	if at != len(answerValues) {
		t.Fatalf("the answer gives %d bytes, lists %d", len(answerValues), at)
	}
	ci := int(got.ChannelValues[0][1].(float64))
	if got.ChannelValues[0][0] != "a" || got.RawValues[ci][0] != "msgpack" || !bytes.Equal(split[ci], channel) {
		t.Fatalf("channel a came back as %v: %x", got.RawValues[ci], split[ci])
	}
	if !bytes.Equal(split[got.Metadata], metadata) || got.RawValues[got.Metadata][0] != "json" {
		t.Fatalf("the metadata came back as %q", split[got.Metadata])
	}
	// The checkpoint itself may be rewritten by the engine (channel values are kept apart);
	// it is still JSON.
	if !json.Valid(split[got.Checkpoint]) {
		t.Fatalf("the checkpoint came back as %q", split[got.Checkpoint])
	}
}

func TestLangGraphMalformedRequestIsInvalidArgument(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "langgraph-malformed")
	saver := wflo.NewLangGraphCheckpointer()
	defer saver.Close()
	for _, tc := range []struct {
		name    string
		request string
		values  []byte
	}{
		{"not JSON", `{"op":`, nil},
		{"unknown op", `{"op":"burn"}`, nil},
		{"unknown field", `{"op":"get","thread":"t","colour":"red"}`, nil},
		{"a field missing", `{"op":"get"}`, nil},
		{"more bytes than listed", `{"op":"get","thread":"t","values":[["json",1]]}`, []byte("12")},
	} {
		answer, values, err := saver.Call(x, []byte(tc.request), tc.values)
		if !errors.Is(err, wflo.ErrInvalidArgument) {
			t.Errorf("%s: want ErrInvalidArgument, got %v", tc.name, err)
		}
		if answer != nil || values != nil {
			t.Errorf("%s: an error returned an answer too", tc.name)
		}
	}
	// Nothing was stored: the thread has no checkpoint.
	answer, _, err := saver.Call(x, []byte(`{"op":"get","thread":"t"}`), nil)
	if err != nil || string(answer) != "null" {
		t.Fatalf("after refused requests: %s, %v", answer, err)
	}
}

func TestLangGraphClosedIsErrClosed(t *testing.T) {
	x := startExecution(t, memoryEngine(t), "langgraph-closed")
	saver := wflo.NewLangGraphCheckpointer()
	saver.Close()
	saver.Close() // twice is fine
	if _, _, err := saver.Call(x, []byte(`{"op":"get","thread":"t"}`), nil); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("a closed checkpointer: %v", err)
	}
	open := wflo.NewLangGraphCheckpointer()
	defer open.Close()
	x.Close()
	if _, _, err := open.Call(x, []byte(`{"op":"get","thread":"t"}`), nil); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("a closed execution: %v", err)
	}
}
