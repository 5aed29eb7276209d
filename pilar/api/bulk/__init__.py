"""Bulk import and export of spreadsheets (CSV and XLSX): another door into the application
service beside HTTP and the pages. The column templates come from the API's own request schemas
(templates.py), rows are read streamed (sheets.py), checked and written row by row through the
same commands as the API (rows.py, importer.py); cases and aid go out again in the same columns
(export.py)."""
