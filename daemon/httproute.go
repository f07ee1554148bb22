package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ikcgate/ikcgate/gateway"
	"github.com/ikcgate/ikcgate/perlcompat"
	"github.com/ikcgate/ikcgate/protocol"
)

// HTTPRoute is a gateway.Handler that serves a state by POSTing it to an
// HTTP endpoint (route kind "http").
//
// The request body is the IKC request's params as JSON (see ValueToJSON
// for what JSON loses), with Content-Type application/json and headers
//
//	X-IKC-Session   the session addressed
//	X-IKC-State     the state addressed
//	X-IKC-Kernel    the calling kernel's ID ("" for a local request)
//	X-IKC-Call      "1" when the caller waits for a reply, "0" for a post
//	X-IKC-Context   "list" for a ClientLite call in list context
//
// plus any configured headers. A 2xx response's body is JSON and is the
// reply (JSONToValue); an empty body, or null, means no reply, as undef
// does in Perl. Any other status is an error, which the caller receives as
// IKC's remote_error: its text holds the status and the body's first
// line. A body longer than MaxBody is an error too. Timeout bounds each
// request (and the caller's context, when the channel closes, ends it).
type HTTPRoute struct {
	URL     string
	Timeout time.Duration
	Headers map[string]string
	// Client is shared by every route of a daemon; nil means
	// http.DefaultClient.
	Client *http.Client
	// MaxBody bounds the response body read (0: 16 MiB).
	MaxBody int64
}

// ServeIKC forwards r to the endpoint.
func (h *HTTPRoute) ServeIKC(ctx context.Context, r *gateway.Request) (perlcompat.Value, error) {
	var params perlcompat.Value = r.Arg(0)
	if r.Message != nil && len(r.Args) <= 1 {
		params = r.Message.Params
	} else if len(r.Args) > 1 {
		params = perlcompat.NewArray(r.Args...)
	}
	body, err := ValueToJSON(params)
	if err != nil {
		return nil, fmt.Errorf("http route %s/%s: params cannot be sent as JSON: %w", r.Session, r.State, err)
	}
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("http route %s: %w", h.URL, err)
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	gateway.WillBlock(ctx) // the channel goes on being read while the endpoint answers
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-IKC-Session", r.Session)
	req.Header.Set("X-IKC-State", r.State)
	req.Header.Set("X-IKC-Kernel", r.Kernel)
	req.Header.Set("X-IKC-Call", map[bool]string{true: "1", false: "0"}[r.WantReply])
	if r.WantArray == protocol.WantList {
		req.Header.Set("X-IKC-Context", "list")
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("http route: POST %s: %w", h.URL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	limit := h.MaxBody
	if limit <= 0 {
		limit = 16 << 20
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("http route: POST %s: reading the response: %w", h.URL, unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("http route: POST %s: %s: %s", h.URL, resp.Status, firstLine(data))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("http route: POST %s: response body longer than %d bytes", h.URL, limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	v, err := JSONToValue(data)
	if err != nil {
		return nil, fmt.Errorf("http route: POST %s: response is not JSON: %w", h.URL, err)
	}
	return v, nil
}

func unwrapURLError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out: %w", context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// firstLine is the first line of a response body, cut to 200 bytes.
func firstLine(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 256), len(b)+1)
	line := ""
	if sc.Scan() {
		line = strings.TrimSpace(sc.Text())
	}
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	if line == "" {
		return "(empty body)"
	}
	return line
}

// ValueToJSON encodes a Perl value as JSON. What JSON cannot carry is
// lost, as documented in CONFIG.md:
//
//   - undef is null; Perl's booleans are true and false;
//   - strings are JSON strings of their characters: a byte string is read
//     as Latin-1, so the byte/character distinction is lost, and so is
//     "42" versus 42 only in the other direction (a string stays a string);
//   - integers are JSON integers; a float is a JSON number (NaN and
//     infinities are an error);
//   - blessed arrays and hashes lose their class; references to scalars
//     and to references collapse to what they point at;
//   - shared references are written out in full each time; a cycle is
//     cut to null where it closes.
func ValueToJSON(v perlcompat.Value) ([]byte, error) {
	g := perlcompat.ToGo(v)
	if err := checkFloats(g, 0); err != nil {
		return nil, err
	}
	return json.Marshal(g)
}

func checkFloats(g any, depth int) error {
	if depth > perlcompat.MaxDepth {
		return nil
	}
	switch x := g.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%v has no JSON form", x)
		}
	case []any:
		for _, e := range x {
			if err := checkFloats(e, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range x {
			if err := checkFloats(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// JSONToValue decodes JSON as the Perl value JSON::PP would give: null is
// undef, true/false are Perl booleans, strings are character strings,
// integers are Int (Uint above int64; Float when they fit neither), other
// numbers Float, arrays and objects unblessed *Array and *Hash.
func JSONToValue(data []byte) (perlcompat.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return fromJSON(g), nil
}

func fromJSON(g any) perlcompat.Value {
	switch x := g.(type) {
	case nil:
		return perlcompat.Undef{}
	case bool:
		return perlcompat.Bool(x)
	case string:
		return perlcompat.Text(x)
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return perlcompat.Int(n)
			}
			if n, err := strconv.ParseUint(s, 10, 64); err == nil {
				return perlcompat.Uint(n)
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return perlcompat.Text(s)
		}
		return perlcompat.Float(f)
	case []any:
		a := &perlcompat.Array{Elems: make([]perlcompat.Value, len(x))}
		for i, e := range x {
			a.Elems[i] = fromJSON(e)
		}
		return a
	case map[string]any:
		h := perlcompat.NewHash()
		for _, k := range sortedKeys(x) {
			h.Set(k, fromJSON(x[k]))
		}
		return h
	}
	return perlcompat.Undef{}
}
