package terraform_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"fmt"
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

const rdsCABundleURL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"

// TestDockerfileRDSCA: the image carries the RDS CA bundle where the
// module's RESTAGE_TLS_CA_FILE points, downloaded at build time and
// checked against the required build argument RDS_CA_SHA256 (no default).
// The check steps are run here with sh: no digest, a wrong one and the
// right one.
func TestDockerfileRDSCA(t *testing.T) {
	d := parseDockerfile(t)
	build := d[:len(d)-len(d.finalStage())]
	arg, empty, fetch, check := -1, -1, -1, -1
	for i, in := range build {
		switch {
		case in.cmd == "ARG" && strings.HasPrefix(in.args, "RDS_CA_SHA256"):
			if in.args != "RDS_CA_SHA256" {
				t.Errorf("ARG %s: RDS_CA_SHA256 must have no default", in.args)
			}
			arg = i
		case in.cmd == "RUN" && strings.Contains(in.args, `test -n "$RDS_CA_SHA256"`):
			empty = i
		case in.cmd == "RUN" && strings.Contains(in.args, rdsCABundleURL):
			fetch = i
			if !strings.Contains(in.args, "curl -fsS") || !strings.Contains(in.args, "--proto '=https'") || !strings.Contains(in.args, "-o /out/rds-ca.pem") {
				t.Errorf("fetch %q: want curl -fsS --proto '=https' … -o /out/rds-ca.pem (fail on HTTP errors, HTTPS only)", in.args)
			}
		case in.cmd == "RUN" && strings.Contains(in.args, "sha256sum -c"):
			check = i
		}
	}
	if arg < 0 || empty < 0 || fetch < 0 || check < 0 {
		t.Fatalf("build stage: ARG RDS_CA_SHA256 at %d, empty check at %d, fetch of %s at %d, sha256sum -c at %d; want all", arg, empty, rdsCABundleURL, fetch, check)
	}
	if !(arg < empty && empty < fetch && fetch < check) {
		t.Errorf("order ARG %d, empty check %d, fetch %d, sha256sum %d: want the argument, its check, the download, then the digest check", arg, empty, fetch, check)
	}

	// The image path is the module's RESTAGE_TLS_CA_FILE.
	tf, err := os.ReadFile(filepath.Join(repoRoot(t), "terraform", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`rds_ca_file\s*=\s*"([^"]+)"`).FindSubmatch(tf)
	if m == nil {
		t.Fatal("terraform/main.tf sets no rds_ca_file")
	}
	var copied bool
	for _, in := range d.finalStage() {
		if in.cmd == "COPY" && in.args == "--from=build /out/rds-ca.pem "+string(m[1]) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("runtime stage does not COPY --from=build /out/rds-ca.pem %s", m[1])
	}

	// Run the two checks as the build would, on a stand-in bundle.
	if _, err := exec.LookPath("sha256sum"); err != nil {
		missing(t, "sha256sum not on PATH: %v", err)
	}
	dir := t.TempDir()
	bundle := []byte("-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n")
	if err := os.WriteFile(filepath.Join(dir, "rds-ca.pem"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(script, digest string) error {
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(script, "/out/", dir+"/"))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RDS_CA_SHA256=" + digest}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("%s: %s", script, out)
		}
		return err
	}
	right := fmt.Sprintf("%x", sha256.Sum256(bundle))
	wrong := fmt.Sprintf("%x", sha256.Sum256([]byte("other")))
	if err := run(build[empty].args, ""); err == nil {
		t.Error("the build goes on without RDS_CA_SHA256")
	}
	if err := run(build[empty].args, right); err != nil {
		t.Errorf("the build stops with RDS_CA_SHA256 set: %v", err)
	}
	if err := run(build[check].args, wrong); err == nil {
		t.Error("a bundle that does not match RDS_CA_SHA256 passes")
	}
	if err := run(build[check].args, ""); err == nil {
		t.Error("the digest check passes without a digest")
	}
	if err := run(build[check].args, right); err != nil {
		t.Errorf("the matching bundle fails the check: %v", err)
	}
}
