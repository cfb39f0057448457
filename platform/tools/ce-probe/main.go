// Command ce-probe sends and receives CloudEvents with the official CloudEvents Go SDK (sdk-go), the
// library Knative's and eventing-rabbitmq's data planes are built on, so that sluice's local broker is
// checked against an independent implementation (eventing/src/sdk-go-fidelity.int.test.ts). Built once
// per machine from the Go module proxy by `make ce-probe`, like FerretDB and kustomize.
//
//	ce-probe serve [-addr 127.0.0.1:0]
//	    An sdk-go receiver. Prints "listening <url>", then one JSON line per event it receives:
//	    {"received": <event>, "replied": <event or null>}. An event with the extension probereply
//	    ("binary" or "structured") is answered with a reply event in that mode: the same event with
//	    type dev.sluice.fidelity.reply, id "<id>-reply", and probereply removed.
//	ce-probe send -target <url>
//	    An sdk-go producer. Reads one {"mode": "binary"|"structured", "event": <spec>} per line on stdin,
//	    sends it, and prints {"status": <HTTP status>, "sent": <event>} per line.
//
// <event> is how sdk-go sees an event: attributes and extensions as their canonical strings
// (types.Format), data as base64 of the exact bytes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Canonical is an event as sdk-go holds it, in strings.
type Canonical struct {
	Attributes map[string]string `json:"attributes"`
	Extensions map[string]string `json:"extensions"`
	DataBase64 *string           `json:"data_base64"`
	// Headers are the ce-* and Content-Type header values as received (serve only; for failure messages).
	Headers map[string]string `json:"headers,omitempty"`
}

func canonical(e event.Event) (Canonical, error) {
	ec := e.Context.AsV1()
	c := Canonical{
		Attributes: map[string]string{
			"specversion": e.SpecVersion(),
			"id":          ec.ID,
			"source":      ec.Source.String(),
			"type":        ec.Type,
		},
		Extensions: map[string]string{},
	}
	if ec.Subject != nil {
		c.Attributes["subject"] = *ec.Subject
	}
	if ec.Time != nil {
		c.Attributes["time"] = types.FormatTime(ec.Time.Time)
	}
	if ec.DataContentType != nil {
		c.Attributes["datacontenttype"] = *ec.DataContentType
	}
	if ec.DataSchema != nil {
		c.Attributes["dataschema"] = ec.DataSchema.String()
	}
	for name, value := range ec.Extensions {
		s, err := types.Format(value)
		if err != nil {
			return c, fmt.Errorf("extension %s: %w", name, err)
		}
		c.Extensions[name] = s
	}
	if e.DataEncoded != nil {
		s := base64.StdEncoding.EncodeToString(e.DataEncoded)
		c.DataBase64 = &s
	}
	return c, nil
}

// ExtensionSpec is an extension value with its CloudEvents type, so sdk-go gets the Go type it expects.
type ExtensionSpec struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// EventSpec is what the test asks the producer to send.
type EventSpec struct {
	ID              string                   `json:"id"`
	Source          string                   `json:"source"`
	Type            string                   `json:"type"`
	Subject         *string                  `json:"subject"`
	Time            *string                  `json:"time"`
	DataSchema      *string                  `json:"dataschema"`
	DataContentType *string                  `json:"datacontenttype"`
	Extensions      map[string]ExtensionSpec `json:"extensions"`
	DataBase64      *string                  `json:"data_base64"`
	// Base64 makes structured mode write data_base64 (bytes) instead of data.
	Base64 bool `json:"base64"`
}

func extensionValue(spec ExtensionSpec) (interface{}, error) {
	switch spec.Type {
	case "Boolean":
		var b bool
		return b, json.Unmarshal(spec.Value, &b)
	case "Integer":
		var i int32
		return i, json.Unmarshal(spec.Value, &i)
	}
	var s string
	if err := json.Unmarshal(spec.Value, &s); err != nil {
		return nil, err
	}
	switch spec.Type {
	case "String":
		return s, nil
	case "Binary":
		return base64.StdEncoding.DecodeString(s)
	case "URI":
		if u := types.ParseURI(s); u != nil {
			return *u, nil
		}
	case "URI-reference":
		if u := types.ParseURIRef(s); u != nil {
			return *u, nil
		}
	case "Timestamp":
		t, err := types.ParseTimestamp(s)
		if err != nil || t == nil {
			return nil, fmt.Errorf("timestamp %q: %v", s, err)
		}
		return *t, nil
	}
	return nil, fmt.Errorf("extension type %s with value %q not understood", spec.Type, s)
}

func build(spec EventSpec) (event.Event, error) {
	e := event.New(event.CloudEventsVersionV1)
	e.SetID(spec.ID)
	e.SetSource(spec.Source)
	e.SetType(spec.Type)
	if spec.Subject != nil {
		e.SetSubject(*spec.Subject)
	}
	if spec.Time != nil {
		t, err := types.ParseTime(*spec.Time)
		if err != nil {
			return e, err
		}
		e.SetTime(t)
	}
	if spec.DataSchema != nil {
		e.SetDataSchema(*spec.DataSchema)
	}
	if spec.DataContentType != nil {
		e.SetDataContentType(*spec.DataContentType)
	}
	for name, ext := range spec.Extensions {
		v, err := extensionValue(ext)
		if err != nil {
			return e, err
		}
		e.SetExtension(name, v)
	}
	if spec.DataBase64 != nil {
		data, err := base64.StdEncoding.DecodeString(*spec.DataBase64)
		if err != nil {
			return e, err
		}
		e.DataEncoded = data // the exact bytes, as an event read from the wire holds them
		e.DataBase64 = spec.Base64
	}
	return e, e.Validate()
}

func withMode(ctx context.Context, mode string) context.Context {
	if mode == "structured" {
		return binding.WithForceStructured(ctx)
	}
	return binding.WithForceBinary(ctx)
}

func send(target string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var line struct {
			Mode  string    `json:"mode"`
			Event EventSpec `json:"event"`
		}
		if err := json.Unmarshal(in.Bytes(), &line); err != nil {
			return err
		}
		e, err := build(line.Event)
		if err != nil {
			return fmt.Errorf("event %s: %w", line.Event.ID, err)
		}
		ctx := withMode(context.Background(), line.Mode)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
		if err != nil {
			return err
		}
		if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
			return err
		}
		// What was sent is sdk-go's own reading of the bytes it wrote: its structured writer re-encodes JSON
		// data (encoding/json compacts and HTML-escapes MarshalJSON output) and timestamps, before any broker.
		var body []byte
		if req.Body != nil {
			if body, err = io.ReadAll(req.Body); err != nil {
				return err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		sent, err := readBack(req.Header, body)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if err := out.Encode(map[string]interface{}{"status": res.StatusCode, "sent": sent}); err != nil {
			return err
		}
	}
	return in.Err()
}

// readBack is how sdk-go reads a message it wrote.
func readBack(header http.Header, body []byte) (Canonical, error) {
	e, err := binding.ToEvent(context.Background(), cehttp.NewMessage(header.Clone(), io.NopCloser(bytes.NewReader(body))))
	if err != nil {
		return Canonical{}, err
	}
	return canonical(*e)
}

// recorder buffers a response so that what the receiver replies can be read back before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || mediaType == "text/json" || strings.HasSuffix(mediaType, "+json")
}

// reply is the received event as a reply: new id and type, probereply removed, data bytes unchanged. In
// structured mode data that is neither JSON nor text is written as data_base64, as sdk-go needs to be told.
func reply(e event.Event) event.Event {
	r := e.Clone()
	r.SetID(e.ID() + "-reply")
	r.SetType("dev.sluice.fidelity.reply")
	r.SetExtension("probereply", nil)
	mt := ""
	if ct := r.DataContentType(); ct != "" {
		mt = strings.TrimSpace(strings.ToLower(strings.SplitN(ct, ";", 2)[0]))
	}
	jsonData := isJSON(mt) || (mt == "" && json.Valid(r.DataEncoded))
	r.DataBase64 = r.DataEncoded != nil && !jsonData && !strings.HasPrefix(mt, "text/")
	return r
}

func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	handler := func(w http.ResponseWriter, req *http.Request) {
		headers := map[string]string{}
		for name, values := range req.Header {
			lower := strings.ToLower(name)
			if strings.HasPrefix(lower, "ce-") || lower == "content-type" {
				headers[lower] = strings.Join(values, "\n")
			}
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		msg := cehttp.NewMessage(req.Header, io.NopCloser(bytes.NewReader(body)))
		e, err := binding.ToEvent(req.Context(), msg)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		received, err := canonical(*e)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		received.Headers = headers
		line := map[string]interface{}{"received": received, "replied": nil}
		mode, _ := e.Extensions()["probereply"].(string)
		if mode == "" {
			w.WriteHeader(http.StatusAccepted)
		} else {
			r := reply(*e)
			buffered := &recorder{header: http.Header{}}
			ctx := withMode(req.Context(), mode)
			if err := cehttp.WriteResponseWriter(ctx, binding.ToMessage(&r), http.StatusOK, buffered); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if replied, err := readBack(buffered.header, buffered.body.Bytes()); err == nil {
				line["replied"] = replied
			}
			for name, values := range buffered.header {
				w.Header()[name] = values
			}
			if _, ok := buffered.header["Content-Type"]; !ok {
				// Without this net/http sniffs one (text/plain, image/jpeg …) for a reply without datacontenttype.
				w.Header()["Content-Type"] = nil
			}
			w.WriteHeader(buffered.status)
			_, _ = w.Write(buffered.body.Bytes())
		}
		mu.Lock()
		defer mu.Unlock()
		_ = out.Encode(line)
	}
	fmt.Printf("listening http://%s/\n", ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(handler))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ce-probe serve [-addr host:port] | ce-probe send -target url")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		_ = fs.Parse(os.Args[2:])
		err = serve(*addr)
	case "send":
		fs := flag.NewFlagSet("send", flag.ExitOnError)
		target := fs.String("target", "", "URL to POST events to")
		_ = fs.Parse(os.Args[2:])
		err = send(*target)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ce-probe:", err)
		os.Exit(1)
	}
}
