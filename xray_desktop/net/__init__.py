"""DICOM networking and structured reports: C-STORE receiver, AI result SR. No Qt.

pynetdicom and highdicom are imported by the modules that need them, never here, so
importing the package stays cheap.
"""
