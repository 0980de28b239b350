package terraform_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The image's build: what the Dockerfile must use and what this test
// builds with (no Docker daemon here).
var (
	buildEnv   = "CGO_ENABLED=0"
	buildFlags = []string{"-trimpath", "-ldflags", "-s -w"}
)

// dockerfile holds the instructions of the Dockerfile, continuation lines joined.
type dockerfile []instruction

type instruction struct{ cmd, args string }

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out dockerfile
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// finalStage returns the instructions after the last FROM.
func (d dockerfile) finalStage() dockerfile {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i].cmd == "FROM" {
			return d[i:]
		}
	}
	return nil
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	var build string
	froms := 0
	for _, in := range d {
		if in.cmd == "FROM" {
			froms++
		}
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if froms < 2 {
		t.Errorf("%d FROM lines, want a multi-stage build", froms)
	}
	if build == "" {
		t.Fatal("no RUN … go build … in the Dockerfile")
	}
	if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(buildEnv) + `\s`).MatchString(build) {
		t.Errorf("go build without %s: %s", buildEnv, build)
	}
	if !strings.Contains(build, " "+buildFlags[0]+" ") {
		t.Errorf("go build without %s: %s", buildFlags[0], build)
	}
	if m := regexp.MustCompile(`-ldflags\s+"([^"]*)"`).FindStringSubmatch(build); m == nil || !strings.HasPrefix(m[1], buildFlags[2]) {
		t.Errorf("go build without -ldflags %q: %s", buildFlags[2], build)
	}
	if !strings.Contains(build, "./app") {
		t.Errorf("go build does not build ./app: %s", build)
	}

	final := d.finalStage()
	base := final[0].args
	if !strings.Contains(base, "distroless/static") && base != "scratch" {
		t.Errorf("runtime base %q, want distroless static (or scratch + CA certificates)", base)
	}
	var user, entrypoint, command string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "CMD":
			command = in.args
		}
	}
	if !strings.Contains(base, ":nonroot") && (user == "" || user == "root" || strings.HasPrefix(user, "0")) {
		t.Errorf("runtime runs as %q, want a non-root user", user)
	}
	if user == "root" || strings.HasPrefix(user, "0:") || user == "0" {
		t.Errorf("USER %s: want non-root", user)
	}
	if !regexp.MustCompile(`^\["[^"]*/restage"\]$`).MatchString(entrypoint) {
		t.Errorf("ENTRYPOINT %s, want [\".../restage\"] (exec form)", entrypoint)
	}
	if command != `["run"]` {
		t.Errorf("CMD %s, want [\"run\"]", command)
	}
}

// TestStaticBinary builds ./app exactly as the Dockerfile does and checks
// the result needs no dynamic loader (it must run on distroless/static),
// for this machine (then runs it) and for the ARM64 Fargate default.
func TestStaticBinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		missing(t, "go not on PATH: %v", err)
	}
	for _, arch := range []string{runtime.GOARCH, "arm64"} {
		t.Run(arch, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "restage")
			args := append([]string{"build"}, buildFlags...)
			args = append(args, "-o", bin, "./app")
			cmd := exec.Command(goBin, args...)
			cmd.Dir = repoRoot(t)
			cmd.Env = append(os.Environ(), buildEnv, "GOOS=linux", "GOARCH="+arch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %v: %v\n%s", args, err, out)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("binary has an ELF interpreter (PT_INTERP): dynamically linked")
				}
			}
			if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
				t.Errorf("binary needs shared libraries %v (%v)", libs, err)
			}
			if f.Section(".symtab") != nil {
				t.Errorf("binary has a symbol table: -s was not applied")
			}
			if arch != runtime.GOARCH || runtime.GOOS != "linux" {
				return
			}
			var stdout, stderr bytes.Buffer
			run := exec.Command(bin, "--help")
			run.Stdout, run.Stderr = &stdout, &stderr
			run.Env = []string{} // the image has no environment of ours either
			if err := run.Run(); err != nil {
				t.Fatalf("restage --help: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), "restage run") {
				t.Errorf("restage --help printed no usage:\n%s", stdout.String())
			}
		})
	}
}
