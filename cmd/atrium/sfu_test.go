package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestServePprof(t *testing.T) {
	var logs strings.Builder
	stop, err := servePprof("127.0.0.1:0", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("servePprof: %v", err)
	}
	defer stop()
	addr := logs.String()[strings.Index(logs.String(), "addr=")+len("addr="):]
	addr = strings.TrimSpace(addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatalf("GET cmdline: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("GET cmdline = %d %q, want 200 and the command line", resp.StatusCode, body)
	}
	if strings.Contains(logs.String(), "beyond loopback") {
		t.Errorf("warned about a loopback address: %s", logs.String())
	}
	if _, err := servePprof("256.0.0.1:1", slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Errorf("servePprof on an invalid address: want an error")
	}
}
