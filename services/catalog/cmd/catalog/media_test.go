package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/media"
)

// putFiles stores files named after contents in a folder and returns their
// keys.
func putFiles(t *testing.T, dir string, contents ...string) []string {
	t.Helper()
	var keys []string
	for _, c := range contents {
		sum := sha256.Sum256([]byte(c))
		h := hex.EncodeToString(sum[:])
		f := catalog.ImageFile{Key: h[:2] + "/" + h + ".jpg", ContentType: "image/jpeg", Data: []byte(c)}
		if err := (&media.Local{Dir: dir}).Put(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, f.Key)
	}
	return keys
}

// TestMediaArchive exports the store that the environment names and
// imports the archive into another, as scripts/backup.sh and restore.sh do.
func TestMediaArchive(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	keys := putFiles(t, from, "one", "two")
	t.Setenv("DATABASE_URL", "postgres://catalog@postgres/bazaar")
	t.Setenv("MEDIA_STORE", "local")

	t.Setenv("MEDIA_DIR", from)
	var archive, stderr bytes.Buffer
	if code := mediaArchive("media-export", nil, &archive, &stderr); code != 0 || !strings.Contains(stderr.String(), "media-export: 2 files") {
		t.Fatalf("media-export: exit %d, %s", code, stderr.String())
	}
	t.Setenv("MEDIA_DIR", to)
	stderr.Reset()
	if code := mediaArchive("media-import", &archive, nil, &stderr); code != 0 || !strings.Contains(stderr.String(), "media-import: 2 files") {
		t.Fatalf("media-import: exit %d, %s", code, stderr.String())
	}
	for _, key := range keys {
		if _, err := os.Stat(filepath.Join(to, key)); err != nil {
			t.Error(err)
		}
	}

	t.Setenv("MEDIA_STORE", "ftp")
	stderr.Reset()
	if code := mediaArchive("media-export", nil, &archive, &stderr); code != 2 || !strings.Contains(stderr.String(), "MEDIA_STORE") {
		t.Errorf("an invalid configuration: exit %d, %s", code, stderr.String())
	}
}

// TestMediaArchiveBucket moves a folder's images into a bucket and backs the
// bucket up, each store named by the environment (MEDIA_STORE=s3 and the
// MEDIA_S3_* settings, as docker-compose.s3.yml gives them).
func TestMediaArchiveBucket(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("-short: no S3 server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	sw, err := catalogtest.StartSeaweedFS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	admin, err := minio.New(strings.TrimPrefix(sw.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(sw.AccessKey, sw.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.MakeBucket(ctx, "images", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keys := putFiles(t, dir, "folder one", "folder two", "folder three")
	t.Setenv("DATABASE_URL", "postgres://catalog@postgres/bazaar")

	t.Setenv("MEDIA_STORE", "local")
	t.Setenv("MEDIA_DIR", dir)
	var archive, stderr bytes.Buffer
	if code := mediaArchive("media-export", nil, &archive, &stderr); code != 0 {
		t.Fatalf("media-export of the folder: exit %d, %s", code, stderr.String())
	}

	for k, v := range map[string]string{
		"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": sw.Endpoint, "MEDIA_S3_BUCKET": "images", "MEDIA_S3_PREFIX": "products/",
		"MEDIA_S3_ACCESS_KEY": sw.AccessKey, "MEDIA_S3_SECRET_KEY": sw.SecretKey, "MEDIA_BASE_URL": sw.Endpoint + "/images/",
	} {
		t.Setenv(k, v)
	}
	stderr.Reset()
	if code := mediaArchive("media-import", &archive, nil, &stderr); code != 0 || !strings.Contains(stderr.String(), "media-import: 3 files") {
		t.Fatalf("media-import into the bucket: exit %d, %s", code, stderr.String())
	}
	for _, key := range keys {
		if _, err := admin.StatObject(ctx, "images", "products/"+key, minio.StatObjectOptions{}); err != nil {
			t.Errorf("%s is not in the bucket: %v", key, err)
		}
	}
	var backup bytes.Buffer
	stderr.Reset()
	if code := mediaArchive("media-export", nil, &backup, &stderr); code != 0 || !strings.Contains(stderr.String(), "media-export: 3 files") {
		t.Fatalf("media-export of the bucket: exit %d, %s", code, stderr.String())
	}
	var names []string
	tr := tar.NewReader(&backup)
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	slices.Sort(names)
	slices.Sort(keys)
	if diff := cmp.Diff(keys, names); diff != "" {
		t.Errorf("the bucket's archive (-want +got):\n%s", diff)
	}
}
