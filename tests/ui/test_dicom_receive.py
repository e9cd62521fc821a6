"""DICOM receive in the window: a real pynetdicom client sends, the row appears and is analysed.

Also: the dialog's validation, a port in use is one message (the window keeps working),
turning it off and closing the window free the port.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fakes import write_png
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from tests.net.net_helpers import chest_film
from xray_desktop import settings as keys
from xray_desktop.ui.dicom_receive import ReceiveDialog, ReceiveOptions
from xray_desktop.ui.study_list import Status

DX = "1.2.840.10008.5.1.4.1.1.1.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _enable(settings, folder: Path, port: int, **more) -> None:
    for spec, value in ((keys.RECEIVE_ENABLED, True), (keys.RECEIVE_AE_TITLE, "XRAY_GUI"),
                        (keys.RECEIVE_PORT, port), (keys.RECEIVE_BIND, "127.0.0.1"),
                        (keys.RECEIVE_FOLDER, str(folder)), *more.items()):
        settings.set(spec, value)


def _send(port: int, ds, called: str = "XRAY_GUI") -> int:
    ae = AE(ae_title="PACS")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = 10
    ae.add_requested_context(DX, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(ds).Status)
    finally:
        assoc.release()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_received_film_joins_the_work_list_and_is_analysed(make_window, settings_store, qtbot, tmp_path):
    port, folder = _free_port(), tmp_path / "incoming"
    _enable(settings_store, folder, port)
    w = make_window()
    qtbot.waitUntil(lambda: w.receiver.listening is not None, timeout=10_000)
    assert w.receiver.label.text() == f"Receiving on XRAY_GUI@{port} · 0 received"
    ds = chest_film()
    assert _send(port, ds) == 0x0000
    stored = folder / ds.StudyInstanceUID / f"{ds.SOPInstanceUID}.dcm"
    assert stored.is_file()
    qtbot.waitUntil(lambda: len(w.model.rows) == 1 and w.model.rows[0].status == Status.AI_READY, timeout=10_000)
    row = w.model.rows[0]
    assert folder in row.path.parents and row.probability is not None
    assert w.receiver.label.text() == f"Receiving on XRAY_GUI@{port} · 1 received"
    assert w.receiver.count == 1


def test_port_in_use_is_one_message_and_the_window_keeps_working(make_window, settings_store, qtbot, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _enable(settings_store, tmp_path / "incoming", port)
        w = make_window()
        qtbot.waitUntil(lambda: w.receiver.last_error != "", timeout=10_000)
        assert "cannot listen on 127.0.0.1:" in w.receiver.last_error
        qtbot.waitUntil(lambda: w.notifier.last_box is not None and w.notifier.last_box.isVisible())
        text = w.notifier.last_box.text()
        assert text.startswith("DICOM receive is off: cannot listen on 127.0.0.1:") and "choose another port" in text
        assert w.receiver.label.text() == "DICOM receive: off (error)"
        # the window works on: a dropped file is analysed
        w.open_paths([write_png(tmp_path / "a.png", 0.6)])
        qtbot.waitUntil(lambda: len(w.model.rows) == 1 and w.model.rows[0].probability is not None, timeout=10_000)


def test_dialog_turns_it_on_and_off_and_close_frees_the_port(make_window, settings_store, qtbot, tmp_path):
    w = make_window()
    qtbot.wait(100)
    assert w.receiver.listening is None and not w.receiver.label.isVisible()  # off by default
    port = _free_port()
    seen: list[ReceiveOptions] = []

    def provide(current: ReceiveOptions) -> ReceiveOptions:
        seen.append(current)
        return ReceiveOptions(True, "XRAY_DLG", port, "127.0.0.1", "PACS, CR ROOM", str(tmp_path / "in"))

    w.receiver.options_provider = provide
    w.action_receive.trigger()
    assert seen == [ReceiveOptions()]  # the defaults: off, XRAY_DESKTOP, 11112
    qtbot.waitUntil(lambda: w.receiver.listening == ("XRAY_DLG", port), timeout=10_000)
    assert settings_store.get(keys.RECEIVE_ENABLED) is True and settings_store.get(keys.RECEIVE_PORT) == port
    assert _send(port, chest_film(), "XRAY_DLG") == 0  # PACS is an allowed caller
    qtbot.waitUntil(lambda: w.receiver.count == 1, timeout=10_000)

    w.receiver.options_provider = lambda cur: ReceiveOptions(**{**cur.__dict__, "enabled": False})
    w.action_receive.trigger()
    qtbot.waitUntil(lambda: w.receiver.listening is None, timeout=10_000)
    assert _refused(port) and not w.receiver.label.isVisible()

    w.receiver.options_provider = lambda cur: ReceiveOptions(**{**cur.__dict__, "enabled": True})
    w.action_receive.trigger()
    qtbot.waitUntil(lambda: w.receiver.listening is not None, timeout=10_000)
    assert not _refused(port)
    w.close()
    assert _refused(port)  # closing stopped it before returning


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ae_title", "", "AE title must be 1 to 16"),
    ("ae_title", "    ", "is only spaces"),
    ("ae_title", "A\\B", "holds a backslash"),
    ("ae_title", "TAB\tAE", "holds a control"),
    ("allowed", "PACS, BAD\\AE", "allowed calling AE title"),
    ("bind", "not an address!", "interface must be"),
])
def test_dialog_refuses_invalid_values(qtbot, field, value, message):
    dialog = ReceiveDialog(ReceiveOptions())
    qtbot.addWidget(dialog)
    assert dialog.ok_button.isEnabled() and dialog.problem_label.text() == ""
    getattr(dialog, field).setText(value)
    assert not dialog.ok_button.isEnabled()
    assert message in dialog.problem_label.text()
    assert (dialog.port.minimum(), dialog.port.maximum()) == (1, 65535)
    assert dialog.ae_title.maxLength() == 16
    getattr(dialog, field).setText(getattr(ReceiveOptions(), field))
    assert dialog.ok_button.isEnabled()


def test_options_round_trip_through_the_settings(settings_store):
    opts = ReceiveOptions(True, "WS1", 11113, "10.0.0.5", "PACS1,CR2", "/data/in")
    opts.save(settings_store)
    assert ReceiveOptions.load(settings_store) == opts
    config = opts.config()
    assert (config.ae_title, config.port, config.bind, config.allowed_calling_aets) == \
        ("WS1", 11113, "10.0.0.5", ("PACS1", "CR2"))
    assert ReceiveOptions().folder_path() == keys.received_dir()
    assert keys.gui_setting(keys.RECEIVE_AE_TITLE) == "WS1"  # what the CLI's --send reads without Qt


def test_a_burst_of_received_films_never_stalls_the_event_loop(make_window, settings_store, qtbot, tmp_path):
    """40 films from dcmtk's storescu (a PACS in another process): each arrival is one queued call
    into the batch, so the GUI ticks on. A first film is received and shown beforehand: the
    first DICOM decode's one-off costs (imports) are not the receiver's."""
    import shutil
    import subprocess

    from helpers import Heartbeat, settled

    from tests.net.net_helpers import save

    storescu = shutil.which("storescu")
    if storescu is None:
        pytest.fail("OFFIS dcmtk is not installed (no storescu); .ci/run installs it")
    n = 40
    files = [save(chest_film(seed=i, rows=128, cols=112), tmp_path / "out" / f"{i:02d}.dcm")
             for i in range(n)] if (tmp_path / "out").mkdir() is None else []
    port = _free_port()
    _enable(settings_store, tmp_path / "incoming", port)
    w = make_window(delay=0.02)
    qtbot.waitUntil(lambda: w.receiver.listening is not None, timeout=10_000)
    assert _send(port, chest_film(seed=99)) == 0
    qtbot.waitUntil(lambda: len(w.model.rows) == 1 and settled(w) and bool(w._cache), timeout=10_000)
    heartbeat = Heartbeat()
    gaps = heartbeat.gaps
    heartbeat.start()
    proc = subprocess.Popen([storescu, "-aet", "PACS", "-aec", "XRAY_GUI", "127.0.0.1", str(port), *map(str, files)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    qtbot.waitUntil(lambda: len(w.model.rows) == n + 1 and settled(w), timeout=60_000)
    heartbeat.stop()
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert w.receiver.count == n + 1 and all(r.probability is not None for r in w.model.rows)
    worst, when = max(gaps)
    assert len(gaps) > 20 and worst < 100, f"event loop stalled for {worst:.0f} ms at t={when:.2f} s"
