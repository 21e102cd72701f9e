package main

import (
	"context"
	"fmt"
	"os"

	"github.com/skiff-sh/skiff/internal/agent/images"
	"github.com/skiff-sh/skiff/internal/agent/testimage"
)

func main() {
	ctx := context.Background()
	switch os.Args[1] {
	case "build":
		if err := testimage.Build(ctx, os.Args[2]); err != nil {
			panic(err)
		}
	case "import":
		if err := images.Import(ctx, os.Args[2], os.Args[3]); err != nil {
			panic(err)
		}
	case "ls":
		l, err := images.List(ctx, os.Args[2])
		if err != nil {
			panic(err)
		}
		for _, i := range l {
			fmt.Println(i.Name, i.Digest, i.Size)
		}
	}
}
