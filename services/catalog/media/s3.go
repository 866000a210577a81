package media

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"bazaar/catalog"
)

// S3Config names a bucket of any S3-compatible store: AWS S3, DigitalOcean
// Spaces, Lightsail object storage, MinIO, SeaweedFS.
type S3Config struct {
	// Endpoint is the store's URL: https://s3.eu-west-1.amazonaws.com,
	// https://nyc3.digitaloceanspaces.com, http://127.0.0.1:8333.
	Endpoint  string
	Region    string
	Bucket    string
	Prefix    string // put before every key, e.g. "products/"
	AccessKey string
	SecretKey string
	// ACL, when set, is the canned ACL of every object ("public-read" for
	// Spaces and Lightsail; on AWS, buckets usually grant reads by policy).
	ACL string
	// BaseURL is where clients fetch the objects: the bucket's public URL
	// or a CDN in front of it, ending with "/" (the prefix follows it).
	BaseURL string
}

// S3 stores files as objects of a bucket, each served with long-lived
// immutable caching: a key names its content, so an object never changes.
type S3 struct {
	cfg    S3Config
	client *minio.Client
}

var _ catalog.MediaStore = (*S3)(nil)

// cacheControl lets browsers and CDNs keep an object for a year without
// asking again.
const cacheControl = "public, max-age=31536000, immutable"

// NewS3 returns an S3 store; it does not contact the store.
func NewS3(cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("media: the S3 endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.Bucket == "" || !strings.HasSuffix(cfg.BaseURL, "/") {
		return nil, fmt.Errorf("media: S3 needs a bucket and a base URL ending with /")
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https",
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &S3{cfg: cfg, client: client}, nil
}

// Put uploads f unless an object with its key is there already.
func (s *S3) Put(ctx context.Context, f catalog.ImageFile) error {
	if err := checkKey(f.Key); err != nil {
		return err
	}
	name := s.cfg.Prefix + f.Key
	if _, err := s.client.StatObject(ctx, s.cfg.Bucket, name, minio.StatObjectOptions{}); err == nil {
		return nil
	}
	opts := minio.PutObjectOptions{ContentType: f.ContentType, CacheControl: cacheControl}
	if s.cfg.ACL != "" {
		opts.UserMetadata = map[string]string{"x-amz-acl": s.cfg.ACL}
	}
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, name, bytes.NewReader(f.Data), int64(len(f.Data)), opts); err != nil {
		return fmt.Errorf("media: put %s: %w", name, err)
	}
	return nil
}

// URL returns where clients fetch key.
func (s *S3) URL(key string) string {
	return s.cfg.BaseURL + s.cfg.Prefix + key
}

// Check reports whether the bucket can be reached.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err == nil && !ok {
		err = fmt.Errorf("no bucket %q", s.cfg.Bucket)
	}
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}
