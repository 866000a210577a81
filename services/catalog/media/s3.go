package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
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
	Endpoint string
	Region   string
	Bucket   string
	Prefix   string // put before every key, e.g. "products/"
	// AccessKey and SecretKey sign the requests. When both are empty the
	// credentials come from the AWS environment: AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (a Lambda function's
	// role), else the instance's or task's role.
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

var _ Store = (*S3)(nil)

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
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.IAM{}})
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:  creds,
		Secure: u.Scheme == "https",
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &S3{cfg: cfg, client: client}, nil
}

// Put uploads f. An object with its key that is there already holds the
// same content, but is uploaded again all the same: that sets its time
// (Last-Modified) to now.
func (s *S3) Put(ctx context.Context, f catalog.ImageFile) error {
	if err := checkKey(f.Key); err != nil {
		return err
	}
	name := s.cfg.Prefix + f.Key
	opts := minio.PutObjectOptions{ContentType: f.ContentType, CacheControl: cacheControl}
	if s.cfg.ACL != "" {
		opts.UserMetadata = map[string]string{"x-amz-acl": s.cfg.ACL}
	}
	if _, err := s.client.PutObject(ctx, s.cfg.Bucket, name, bytes.NewReader(f.Data), int64(len(f.Data)), opts); err != nil {
		return fmt.Errorf("media: put %s: %w", name, err)
	}
	return nil
}

// Touch sets the Last-Modified time of key's object to now: S3 has no other
// way than writing it again, so it is read and put back (an image file is
// small).
func (s *S3) Touch(ctx context.Context, key string) error {
	r, err := s.Open(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return s.error(key, err)
	}
	if len(data) > maxFileBytes {
		return fmt.Errorf("media: %s%s has more than %d bytes", s.cfg.Prefix, key, maxFileBytes)
	}
	return s.Put(ctx, catalog.ImageFile{Key: key, ContentType: contentType(key), Data: data})
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

// ListFiles returns every object under the prefix named by a key, with its
// Last-Modified time.
func (s *S3) ListFiles(ctx context.Context) ([]catalog.MediaFile, error) {
	var files []catalog.MediaFile
	for obj := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("media: list: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.cfg.Prefix)
		if checkKey(key) == nil {
			files = append(files, catalog.MediaFile{Key: key, Written: obj.LastModified})
		}
	}
	return files, nil
}

// StatFile returns key's object with its Last-Modified time.
func (s *S3) StatFile(ctx context.Context, key string) (catalog.MediaFile, error) {
	if err := checkKey(key); err != nil {
		return catalog.MediaFile{}, err
	}
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, s.cfg.Prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return catalog.MediaFile{}, s.error(key, err)
	}
	return catalog.MediaFile{Key: key, Written: info.LastModified}, nil
}

// Open returns key's content.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, s.cfg.Prefix+key, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // sends the request: a missing object fails here
	}
	if err != nil {
		return nil, s.error(key, err)
	}
	return obj, nil
}

// DeleteFile removes key's object; S3 answers a delete of a missing
// object with success.
func (s *S3) DeleteFile(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.cfg.Prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return s.error(key, err)
	}
	return nil
}

// error wraps an error of the store about key, as fs.ErrNotExist when the
// object is missing.
func (s *S3) error(key string, err error) error {
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return fmt.Errorf("media: %s%s: %w", s.cfg.Prefix, key, fs.ErrNotExist)
	}
	return fmt.Errorf("media: %s%s: %w", s.cfg.Prefix, key, err)
}
