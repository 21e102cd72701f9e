package e2e

import (
	"os"
	"testing"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

func TestMain(m *testing.M) { os.Exit(framework.Main(m)) }
