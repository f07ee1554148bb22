package protocol_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ikcgate/ikcgate/protocol"
)

func ExampleAppendFrame() {
	frame, err := protocol.AppendFrame(nil, []byte("\x05\x0b..."))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", frame)
	_, err = protocol.AppendFrame(nil, nil)
	fmt.Println(err)
	// Output:
	// "5\x00\x05\v..."
	// ikc: empty frame (length 0)
}

func ExampleFrameReader() {
	// The negotiation left "3\x00one5" in the buffer: the frame stream's
	// start. The connection delivers the rest.
	conn := strings.NewReader("\x00three")
	fr := protocol.NewFrameReader(conn, []byte("3\x00one5"), 0)
	for {
		payload, err := fr.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s\n", payload) // valid until the next ReadFrame
	}
	// Output:
	// one
	// three
}

func ExampleFrameReader_wrongProtocol() {
	fr := protocol.NewFrameReader(strings.NewReader("HTTP/1.1 400 Bad Request\r\n\r\n"), nil, 0)
	_, err := fr.ReadFrame()
	fmt.Println(errors.Is(err, protocol.ErrFrameHeader))
	fmt.Println(err)
	// Output:
	// true
	// ikc: bad frame header at frame-stream offset 0: want a frame length (ASCII digits then NUL); got "HTTP/1.1 400 Bad Request\r\n\r\n" (the peer speaks HTTP (that is a response), not IKC)
}

func ExampleFrameDecoder() {
	d := protocol.NewFrameDecoder(0)
	for _, chunk := range []string{"2\x00hi0", "03\x00ab", "c"} {
		if err := d.Feed([]byte(chunk)); err != nil {
			fmt.Println("error:", err)
			return
		}
		for {
			p, err := d.Next()
			if err != nil {
				fmt.Println("error:", err)
				return
			}
			if p == nil {
				break // need more bytes
			}
			fmt.Printf("%s\n", p)
		}
	}
	fmt.Println(d.Close()) // the peer closed between frames
	// Output:
	// hi
	// abc
	// EOF
}
