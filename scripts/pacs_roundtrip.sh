#!/usr/bin/env bash
# Usage: scripts/pacs_roundtrip.sh [KERMANY_DIR] [WORK_DIR]  (needs dcmtk + dicom3tools and the bundled model)
# End to end with real chest films: 5 Kermany JPEGs -> DX DICOM (pydicom) -> dcmtk-encoded in
# 5 transfer syntaxes -> storescu -> xray-desktop receive -> pixel comparison -> predict --dicom-sr -> dciodvfy.
set -euo pipefail
WT=$(cd "$(dirname "$0")/.." && pwd); E=${2:-$(mktemp -d)}; DATA=${1:-$WT/../shared/data/kermany-224}; export DATA E; rm -rf $E/src $E/in $E/sr $E/rx.out; mkdir -p $E/src
cd $WT
PYTHONPATH=$WT .venv/bin/python - <<'PY'
from pathlib import Path
import numpy as np
from PIL import Image
from tests.net.net_helpers import chest_film, save
import os; root = Path(os.environ["DATA"]) / "train"
picks = sorted((root / "NORMAL").glob("*.jpeg"))[:2] + sorted((root / "PNEUMONIA").glob("*.jpeg"))[:3]
for i, p in enumerate(picks):
    arr = np.asarray(Image.open(p).convert("L"))
    ds = chest_film(rows=arr.shape[0], cols=arr.shape[1], seed=i)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = arr.astype(np.uint8).tobytes()
    save(ds, Path(os.environ["E"]) / "src" / f"f{i}.dcm")
    print(p.name, arr.shape)
PY
cd $E/src
dcmconv +ti f1.dcm f1_implicit.dcm
dcmcrle f2.dcm f2_rle.dcm
dcmcjpls f3.dcm f3_jpegls.dcm
dcmcjpeg f4.dcm f4_jpeglossless.dcm
cd $WT
PYTHONPATH=$WT .venv/bin/python -m xray_desktop receive --port 11188 --ae-title XRAY_E2E --dir $E/in --bind 127.0.0.1 > $E/rx.out 2>&1 &
RX=$!
sleep 4
echoscu -aet PACS -aec XRAY_E2E 127.0.0.1 11188 && echo "echoscu rc=0"
for pair in "f0.dcm -xe" "f1_implicit.dcm -xi" "f2_rle.dcm -xr" "f3_jpegls.dcm -xt" "f4_jpeglossless.dcm -xs"; do
  set -- $pair; storescu -aet PACS -aec XRAY_E2E -R $2 127.0.0.1 11188 $E/src/$1; echo "storescu $1 rc=$?"
done
kill -TERM $RX; wait $RX; echo "receive rc=$?"
cat $E/rx.out
PYTHONPATH=$WT .venv/bin/python - <<'PY'
from pathlib import Path
import numpy as np, pydicom
import os; E = Path(os.environ["E"])
same = 0
for name in ["f0.dcm", "f1_implicit.dcm", "f2_rle.dcm", "f3_jpegls.dcm", "f4_jpeglossless.dcm"]:
    sent = pydicom.dcmread(E / "src" / name)
    orig = pydicom.dcmread(E / "src" / (name.split("_")[0].replace(".dcm", "") + ".dcm"))
    got = pydicom.dcmread(E / "in" / sent.StudyInstanceUID / f"{sent.SOPInstanceUID}.dcm")
    ok = got.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID and np.array_equal(got.pixel_array, orig.pixel_array)
    same += ok
    print(f"{name:22s} {got.file_meta.TransferSyntaxUID.name:60s} identical pixels: {ok}")
print(f"{same}/5 identical; syntaxes: {len({pydicom.dcmread(p).file_meta.TransferSyntaxUID for p in (E/'in').rglob('*.dcm')})}")
PY
PYTHONPATH=$WT .venv/bin/python -m xray_desktop predict $E/in --csv $E/pred.csv --no-heatmap --dicom-sr $E/sr
cut -d, -f2,4,5,6 $E/pred.csv
n=0; errs=0
for f in $E/sr/*.dcm; do n=$((n+1)); e=$(dciodvfy $f 2>&1 | grep -ac '^Error' || true); errs=$((errs+e)); done
echo "dciodvfy: $n SR files, $errs errors"
dciodvfy $(ls $E/sr/*.dcm | head -1) 2>&1 | sort | uniq -c
