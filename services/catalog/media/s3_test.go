package media_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/media"
)

// TestS3Store runs the store contract against SeaweedFS's S3 gateway, a
// real S3-compatible server (catalogtest.StartSeaweedFS builds it from the
// module proxy on a machine's first run, which takes minutes).
func TestS3Store(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("-short: no S3 server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	start := time.Now()
	sw, err := catalogtest.StartSeaweedFS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	t.Logf("SeaweedFS up in %s at %s", time.Since(start).Round(time.Millisecond), sw.Endpoint)

	admin, err := minio.New(sw.Endpoint[len("http://"):], &minio.Options{Creds: credentials.NewStaticV4(sw.AccessKey, sw.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.MakeBucket(ctx, "images", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := media.NewS3(media.S3Config{
		Endpoint: sw.Endpoint, Bucket: "images", Prefix: "products/",
		AccessKey: sw.AccessKey, SecretKey: sw.SecretKey, BaseURL: sw.Endpoint + "/images/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	readUnder := func(prefix string) stored {
		return func(t *testing.T, key string) ([]byte, string, string, bool) {
			t.Helper()
			return readObject(ctx, admin, prefix+key)
		}
	}
	storeContract(t, s, readUnder("products/"), "public, max-age=31536000, immutable")

	// Objects not named by a key, or outside the prefix, are not the store's.
	foreign := file("not under the prefix")
	for _, name := range []string{"products/notes.txt", "products/ab/cd.jpg", foreign.Key, "other/" + foreign.Key} {
		if _, err := admin.PutObject(ctx, "images", name, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.ListFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Error("ListFiles lists nothing; the contract's files are there")
	}
	for _, f := range files {
		if f.Key == foreign.Key || f.Key == "notes.txt" || f.Key == "ab/cd.jpg" {
			t.Errorf("ListFiles lists %s, which is not the store's", f.Key)
		}
	}

	// A backup's round trip: export from one prefix, import into another.
	store := func(prefix string) *media.S3 {
		s, err := media.NewS3(media.S3Config{
			Endpoint: sw.Endpoint, Bucket: "images", Prefix: prefix,
			AccessKey: sw.AccessKey, SecretKey: sw.SecretKey, BaseURL: sw.Endpoint + "/images/",
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("ExportImportRoundTrip", func(t *testing.T) {
		archiveRoundTrip(t, store("archive-from/"), store("archive-to/"), readUnder("archive-to/"))
	})
	// Without keys, the store signs with the AWS environment's credentials,
	// as on Lambda.
	t.Run("CredentialsFromTheEnvironment", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", sw.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", sw.SecretKey)
		s, err := media.NewS3(media.S3Config{Endpoint: sw.Endpoint, Bucket: "images", Prefix: "env/", BaseURL: "/"})
		if err != nil {
			t.Fatal(err)
		}
		f := file("signed with the environment's keys")
		if err := s.Put(ctx, f); err != nil {
			t.Fatal(err)
		}
		if data, _, _, ok := readObject(ctx, admin, "env/"+f.Key); !ok || string(data) != string(f.Data) {
			t.Errorf("the object put with the environment's keys reads %q (found %v)", data, ok)
		}
	})
	if u := s.URL("ab/x.jpg"); u != sw.Endpoint+"/images/products/ab/x.jpg" {
		t.Errorf("URL = %s", u)
	}

	missing, _ := media.NewS3(media.S3Config{Endpoint: sw.Endpoint, Bucket: "nothing-here", AccessKey: sw.AccessKey, SecretKey: sw.SecretKey, BaseURL: "/"})
	if err := missing.Check(ctx); err == nil {
		t.Error("Check of a bucket that does not exist succeeded")
	}
}

func TestLocalStoreContract(t *testing.T) {
	s := &media.Local{Dir: t.TempDir(), BaseURL: "/media/"}
	storeContract(t, s, func(t *testing.T, key string) ([]byte, string, string, bool) {
		data, err := os.ReadFile(s.Dir + "/" + key)
		return data, "", "", err == nil
	}, "")
}

func TestNewS3RefusesBadConfig(t *testing.T) {
	for _, cfg := range []media.S3Config{
		{Endpoint: "ftp://x", Bucket: "b", BaseURL: "/"},
		{Endpoint: "https://x", Bucket: "", BaseURL: "/"},
		{Endpoint: "https://x", Bucket: "b", BaseURL: "https://cdn.example.com"},
	} {
		if _, err := media.NewS3(cfg); err == nil {
			t.Errorf("NewS3(%+v) succeeded", cfg)
		}
	}
}

// readObject reads an object back with the Content-Type and Cache-Control
// it is served with.
func readObject(ctx context.Context, admin *minio.Client, name string) ([]byte, string, string, bool) {
	obj, err := admin.GetObject(ctx, "images", name, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", "", false
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, "", "", false
	}
	info, err := obj.Stat()
	if err != nil {
		return nil, "", "", false
	}
	return data, info.ContentType, info.Metadata.Get("Cache-Control"), true
}
