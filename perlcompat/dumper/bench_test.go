package dumper

import "testing"

// typicalRequest is an IKC call as a Perl client's IKC::Freezer writes it.
var typicalRequest = []byte(`$POE::Component::IKC::Freezer::VAR1 = {'event' => 'poe://Server/svc/echo',` +
	`'from' => {'session' => 'cli','state' => 'IKC:proxy','kernel' => 'vm-6b04cc91-0000084f-00000001'},` +
	`'params' => ['hello',{'a' => 'b','text' => 42},1],'rsvp' => {'session' => 2,'state' => 'echo_reply','kernel' => 'TestClient'}};`)

func BenchmarkThawTypicalRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalRequest)))
	for b.Loop() {
		if _, err := (Freezer{}).Thaw(typicalRequest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkThawCaptureFrame(b *testing.B) {
	p := loadFrames(b, "g3-freezer-ikc-freezer")[0].Payload
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := (Freezer{}).Thaw(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFreezeTypicalRequest(b *testing.B) {
	v, err := Freezer{}.Thaw(typicalRequest)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = (Freezer{}).Freeze(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}
