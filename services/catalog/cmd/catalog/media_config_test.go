package main

import (
	"testing"
	"time"
)

func TestLoadConfigMedia(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://catalog@postgres/bazaar"}
	with := func(extra map[string]string) map[string]string {
		vars := map[string]string{}
		for k, v := range base {
			vars[k] = v
		}
		for k, v := range extra {
			vars[k] = v
		}
		return vars
	}
	cfg, err := LoadConfig(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Media; m.Store != "local" || m.Dir != "/media" || m.BaseURL != "/media/" || m.MaxPixels != 40_000_000 || m.MaxDecodeBytes != 96<<20 || m.Workers != 1 || m.Retention != 7*24*time.Hour {
		t.Errorf("defaults %+v", m)
	}
	s3 := map[string]string{
		"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": "https://nyc3.digitaloceanspaces.com", "MEDIA_S3_BUCKET": "images",
		"MEDIA_S3_ACCESS_KEY": "key", "MEDIA_S3_SECRET_KEY": "secret", "MEDIA_BASE_URL": "https://images.nyc3.digitaloceanspaces.com/",
	}
	if cfg, err := LoadConfig(env(with(s3))); err != nil || cfg.Media.S3.Bucket != "images" || cfg.Media.S3.BaseURL != s3["MEDIA_BASE_URL"] {
		t.Errorf("S3 configuration: %+v, %v", cfg.Media.S3, err)
	}
	// Without keys: the AWS environment's credentials (deploy/aws/template.yaml).
	role := map[string]string{"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": "https://s3.eu-west-1.amazonaws.com", "MEDIA_S3_BUCKET": "images", "MEDIA_BASE_URL": "/"}
	if _, err := LoadConfig(env(with(role))); err != nil {
		t.Errorf("S3 with the role's credentials: %v", err)
	}
	for name, vars := range map[string]map[string]string{
		"unknown store":       {"MEDIA_STORE": "ftp"},
		"relative dir":        {"MEDIA_DIR": "media"},
		"base URL without /":  {"MEDIA_BASE_URL": "/media"},
		"too few pixels":      {"IMAGE_MAX_PIXELS": "10"},
		"no workers":          {"IMAGE_WORKERS": "0"},
		"decode memory tiny":  {"IMAGE_MAX_DECODE_MB": "1"},
		"retention a day":     {"MEDIA_RETENTION": "24h"},
		"s3 without bucket":   {"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": "https://x", "MEDIA_S3_ACCESS_KEY": "k", "MEDIA_S3_SECRET_KEY": "s", "MEDIA_BASE_URL": "https://x/"},
		"s3 without key":      {"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": "https://x", "MEDIA_S3_BUCKET": "b", "MEDIA_S3_SECRET_KEY": "s", "MEDIA_BASE_URL": "https://x/"},
		"s3 without secret":   {"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": "https://x", "MEDIA_S3_BUCKET": "b", "MEDIA_S3_ACCESS_KEY": "k", "MEDIA_BASE_URL": "https://x/"},
		"s3 endpoint not URL": {"MEDIA_STORE": "s3", "MEDIA_S3_ENDPOINT": "x", "MEDIA_S3_BUCKET": "b", "MEDIA_S3_ACCESS_KEY": "k", "MEDIA_S3_SECRET_KEY": "s", "MEDIA_BASE_URL": "https://x/"},
	} {
		if _, err := LoadConfig(env(with(vars))); err == nil {
			t.Errorf("%s: LoadConfig accepted %v", name, vars)
		}
	}
}
