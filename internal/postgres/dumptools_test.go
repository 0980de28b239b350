package postgres

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/restage/restage/internal/mask"
)

func TestPGCopyTextCodec(t *testing.T) {
	for _, s := range []string{"", "plain", "tab\there", "line\nbreak\r\n", `back\slash\\`, "\\N", "ünïcødé"} {
		v := mask.Value{S: s}
		if got := CopyDecode(CopyEncode(v)); got != v {
			t.Errorf("round trip of %q gave %q", s, got.S)
		}
	}
	if got := CopyDecode(CopyEncode(mask.Value{Null: true})); !got.Null {
		t.Errorf("NULL did not survive the round trip")
	}
	// What COPY prints besides: \b \f \v, octal and hex escapes.
	if got := CopyDecode([]byte(`a\bb\fc\vd\101\x42\q`)); got.S != "a\bb\fc\vdAB"+"q" {
		t.Errorf("decode = %q", got.S)
	}
	// Two copied columns and one read column; the function upper-cases
	// the read value into column 1; unchanged rows pass byte for byte.
	in := "1\tx\\ty\tx\\ty\n2\t\\N\t\\N\n3\tsame\tSAME\n"
	var out bytes.Buffer
	n, err := TransformCopy(strings.NewReader(in), &out, 2, []int{1}, 1, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: strings.ToUpper(in[0].S), Null: in[0].Null}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("transform: %d rows, %v", n, err)
	}
	if want := "1\tX\\tY\n2\t\\N\n3\tsame\n"; out.String() != want {
		t.Errorf("transform wrote %q, want %q", out.String(), want)
	}
	if _, err := TransformCopy(strings.NewReader("1\t2\n"), &out, 2, []int{1}, 1, func(in, out []mask.Value) error { return nil }); err == nil {
		t.Errorf("a row with too few fields was accepted")
	}
}

func TestPGToolEnvKeepsPasswordOutOfArgv(t *testing.T) {
	t.Setenv("PGHOST", "elsewhere")
	env, err := ToolEnv("postgres://u:s3cret@db.example:6543/prod?sslmode=require", "copy")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PGHOST=db.example", "PGPORT=6543", "PGUSER=u", "PGPASSWORD=s3cret", "PGDATABASE=copy", "PGSSLMODE=require"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	if slices.Contains(env, "PGHOST=elsewhere") {
		t.Errorf("inherited PGHOST kept")
	}
	for _, a := range DumpArgs() {
		if strings.Contains(a, "s3cret") {
			t.Errorf("argv holds the password")
		}
	}
}

func TestPGScrub(t *testing.T) {
	got := ScrubMessage(`invalid input syntax for type integer: "topsecret" in "t"`, "t")
	if want := `invalid input syntax for type integer: "…" in "t"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	tail := &ToolStderr{}
	fmt.Fprint(tail, "psql:<stdin>:9: ERROR:  invalid input syntax for type integer: \"topsecret\"\nCONTEXT:  COPY t, line 1, column secret: \"topsecret\"\n")
	if s := tail.Summary(true); strings.Contains(s, "topsecret") || !strings.Contains(s, "ERROR") {
		t.Errorf("summary = %s", s)
	}
}
