package privacy

import (
	"testing"

	"webinaire/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
