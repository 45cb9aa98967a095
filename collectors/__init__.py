"""Stage 1: scrapers and downloaders that gather video-shop pairs into the catalog."""
