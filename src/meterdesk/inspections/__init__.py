"""Inspections of meters and control readings (Decree 354 pp. 82–85)."""
