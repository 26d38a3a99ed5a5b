package wflo_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// The module compiles against its own copy of the header (include/wflo.h), so it builds when
// fetched alone. In the wflo repository that copy must equal ffi/include/wflo.h, which
// cbindgen generates; `make header` writes both. Fetched alone, there is nothing to compare.
func TestVendoredHeaderEqualsTheGeneratedOne(t *testing.T) {
	generated, err := os.ReadFile(filepath.Join("..", "..", "ffi", "include", "wflo.h"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("not inside the wflo repository: no ffi/include/wflo.h to compare with")
	}
	if err != nil {
		t.Fatal(err)
	}
	vendored, err := os.ReadFile(filepath.Join("include", "wflo.h"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vendored, generated) {
		t.Fatal("bindings/go/include/wflo.h differs from ffi/include/wflo.h: run `make header`")
	}
}

// The libwflo that pkg-config found is the version of the header this package was built with.
func TestLinkedLibraryIsTheHeadersVersion(t *testing.T) {
	header, err := os.ReadFile(filepath.Join("include", "wflo.h"))
	if err != nil {
		t.Fatal(err)
	}
	part := func(name string) string {
		m := regexp.MustCompile(`(?m)^#define WFLO_VERSION_` + name + ` (\d+)$`).FindSubmatch(header)
		if m == nil {
			t.Fatalf("no WFLO_VERSION_%s in include/wflo.h", name)
		}
		return string(m[1])
	}
	want := part("MAJOR") + "." + part("MINOR") + "." + part("PATCH")
	if got := wflo.Version(); got != want {
		t.Fatalf("linked libwflo is %s, include/wflo.h is %s", got, want)
	}
}
