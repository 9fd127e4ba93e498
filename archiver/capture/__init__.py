"""Capture: one browser per run, one context per page, each page an independent job."""

from archiver.capture.batch import capture_pages
from archiver.capture.browser import BrowserChoice, find_browser, launch_browser
from archiver.capture.page import CaptureSettings, capture_page

__all__ = ["BrowserChoice", "CaptureSettings", "capture_page", "capture_pages", "find_browser",
           "launch_browser"]
