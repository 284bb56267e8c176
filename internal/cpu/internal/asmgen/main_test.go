package main

import (
	"os"
	"testing"
)

// TestGeneratedFileUpToDate fails when gemm_amd64.s was edited by hand or the
// generator changed without regenerating it.
func TestGeneratedFileUpToDate(t *testing.T) {
	have, err := os.ReadFile("../../gemm_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != generate() {
		t.Fatal("internal/cpu/gemm_amd64.s is stale: run go run ./internal/cpu/internal/asmgen > internal/cpu/gemm_amd64.s")
	}
}
