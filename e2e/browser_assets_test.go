package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The storefront's assets live in web/assets/<fingerprint>/, where the
// fingerprint is computed from their content, so that nginx can let browsers
// keep them for a year: a change moves them to a new address. With no build
// step, a person renames the folder; this test says when and to what.

const storefrontRoot = "../web"

// assetFingerprint is the first 10 hex digits of the SHA-256 of the
// `sha256sum` listing of the folder's files, sorted by path. In the shell:
//
//	cd web/assets/<folder> && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-10
func assetFingerprint(dir string) (string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		paths = append(paths, "./"+filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return "", err
	}
	slices.Sort(paths)
	listing := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(listing, "%s  %s\n", hex.EncodeToString(sum[:]), p)
	}
	return hex.EncodeToString(listing.Sum(nil))[:10], nil
}

// assetVersion returns the name of the one folder under web/assets/.
func assetVersion(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(storefrontRoot, "assets"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("web/assets/ must hold exactly one folder, the current fingerprint; it holds %d entries", len(entries))
	}
	return entries[0].Name()
}

func TestBrowserAssetsFingerprinted(t *testing.T) {
	t.Parallel()
	version := assetVersion(t)
	fp, err := assetFingerprint(filepath.Join(storefrontRoot, "assets", version))
	if err != nil {
		t.Fatal(err)
	}
	if fp != version {
		t.Fatalf("web/assets/%s changed, so its folder must take the new fingerprint %s (browsers cache assets for a year). From e2e/:\n"+
			"  mv ../web/assets/%s ../web/assets/%s && sed -i 's#/assets/%s/#/assets/%s/#g' ../web/index.html", version, fp, version, fp, version, fp)
	}
	index, err := os.ReadFile(filepath.Join(storefrontRoot, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`/assets/([^/"]+)/([^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) == 0 {
		t.Fatal("web/index.html links no assets")
	}
	for _, ref := range refs {
		if ref[1] != version {
			t.Errorf("web/index.html links /assets/%s/%s, want /assets/%s/", ref[1], ref[2], version)
		} else if _, err := os.Stat(filepath.Join(storefrontRoot, "assets", version, ref[2])); err != nil {
			t.Errorf("web/index.html links a missing asset: %v", err)
		}
	}
}

// nginx (nginx/snippets/storefront.conf) revalidates the page on every load,
// lets browsers keep the fingerprinted assets, and compresses text.
func TestBrowserAssetsCachedAndCompressed(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	version := assetVersion(t)
	for _, tc := range []struct {
		path, contentType, cacheControl string
		gzip                            bool
	}{
		{"/", "text/html", "no-cache", true},
		{"/index.html", "text/html", "no-cache", true},
		{"/assets/" + version + "/app.js", "javascript", "max-age=31536000", true},
		{"/assets/" + version + "/app.css", "text/css", "max-age=31536000", true},
		{"/assets/" + version + "/favicon.svg", "image/svg+xml", "max-age=31536000", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := c.Do(t, "GET", tc.path, nil, "Accept-Encoding", "gzip").Expect(t, http.StatusOK, nil)
			if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, tc.cacheControl) {
				t.Errorf("Cache-Control %q, want %s", cc, tc.cacheControl)
			}
			if ce := r.Header.Get("Content-Encoding"); tc.gzip && ce != "gzip" {
				t.Errorf("Content-Encoding %q, want gzip", ce)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
	if r := c.Do(t, "GET", "/assets/"+version+"/missing.js", nil); r.Status != http.StatusNotFound {
		t.Errorf("missing asset: status %d, want 404", r.Status)
	}
}
