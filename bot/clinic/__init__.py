"""The clinic's side: appointments and their reminders, staff commands, exports."""
