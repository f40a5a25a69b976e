package canteen_test

import (
	"bytes"
	"context"
	"image/color"
	"os"
	"sync"
	"testing"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/media"
	"callme/internal/store/storetest"
)

// gatedPhotos holds every Put until n uploads have stored their file, so
// the uploads race on the seller row for sure.
type gatedPhotos struct {
	media.Store
	all sync.WaitGroup
}

func (g *gatedPhotos) Put(ctx context.Context, data []byte, ext string) (string, error) {
	key, err := g.Store.Put(ctx, data, ext)
	g.all.Done()
	g.all.Wait()
	return key, err
}

// TestConcurrentPhotoUploadsLeaveOneFile: uploads racing for one stall leave
// exactly one file on disk, the one the stall points to; each replaced file
// is removed after the change commits (defect 12b: each upload removed the
// photo it had read before, so all but one new file were orphaned).
func TestConcurrentPhotoUploadsLeaveOneFile(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		dir := t.TempDir()
		disk, err := media.NewDiskStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { disk.Close() })
		const n = 5
		gate := &gatedPhotos{Store: disk}
		f := newFixture(t, e, func(c *canteen.Config) { c.Media.Photos = gate })
		seller, st := f.stall(t, "Photo", "P", 999)
		gate.all.Add(1)
		must[*ent.Seller](t)(f.svc.UploadSellerPhoto(seller, st.ID, bytes.NewReader(pngPhoto(t, color.Black))))

		gate.all.Add(n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.svc.UploadSellerPhoto(seller, st.ID, bytes.NewReader(pngPhoto(t, color.Gray{Y: uint8(40 * i)})))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
		}
		cur := must[*ent.Seller](t)(f.db.Client.Seller.Get(context.Background(), st.ID))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, de := range entries {
			files = append(files, de.Name())
		}
		if cur.Photo == nil || len(files) != 1 || files[0] != *cur.Photo {
			t.Fatalf("files on disk %v, the stall's photo %v: want exactly that one file", files, deref2(cur.Photo))
		}
	})
}

func deref2(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
