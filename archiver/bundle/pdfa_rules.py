"""PDF/A rule ids in words a registrar understands.

Validators name a failure by the clause of ISO 19005 it breaks (veraPDF's ids, which pikepdf's
validator uses: `ISO_19005_2:6.2.11.4.1-1` is part 2, clause 6.2.11.4.1, test 1). A registrar needs
to know what that means for the document; this table says it in Swedish with the English term,
looked up by the longest clause prefix that has an entry.
"""

from __future__ import annotations

import re

_PART_1 = {
    "6.1": "filens struktur (file structure)",
    "6.1.2": "filhuvudet är inte som PDF/A kräver (file header)",
    "6.1.3": "filens avslutning saknar id eller är krypterad (file trailer: ID, encryption)",
    "6.1.4": "korsreferenstabellen har fel form (cross-reference table)",
    "6.1.6": "en textsträng i filen har fel form (string objects)",
    "6.1.7": "en dataström har fel längd eller form (streams)",
    "6.1.8": "en dataström är packad på ett sätt PDF/A inte tillåter (stream filters)",
    "6.1.10": "LZW-packning är inte tillåten (LZW filter)",
    "6.1.11": "filen har bifogade filer (embedded files)",
    "6.1.12": "filen överskrider PDF:s gränser för storlek eller antal (implementation limits)",
    "6.1.13": "filen har valbara lager (optional content)",
    "6.2": "grafik och färger (graphics)",
    "6.2.2": "färgprofilen för utskrift (OutputIntent) saknas eller är fel – färgerna kan inte "
             "återges säkert (output intent)",
    "6.2.3": "en färgrymd är inte tillåten utan färgprofil (colour spaces)",
    "6.2.4": "en bild har egenskaper PDF/A inte tillåter (images)",
    "6.2.5": "ett formulärobjekt har otillåtna egenskaper (form XObjects)",
    "6.2.6": "filen hänvisar till innehåll i en annan fil (reference XObjects)",
    "6.2.7": "filen innehåller PostScript (PostScript XObjects)",
    "6.2.8": "grafiktillståndet använder otillåtna funktioner (extended graphics state)",
    "6.2.9": "ett otillåtet återgivningssätt för färger (rendering intents)",
    "6.2.10": "sidans innehåll använder otillåtna operatorer (content streams)",
    "6.3": "typsnitt (fonts)",
    "6.3.2": "ett typsnitt har fel form (font types)",
    "6.3.3": "ett sammansatt typsnitt har fel teckenkodning (composite fonts)",
    "6.3.4": "ett typsnitt är inte inbäddat i filen – texten kan se annorlunda ut på andra datorer "
             "(font embedding)",
    "6.3.5": "ett delmängdstypsnitt saknar uppgift om vilka tecken det har (font subsets)",
    "6.3.6": "typsnittets teckenbredder stämmer inte med det inbäddade typsnittet (font metrics)",
    "6.3.7": "ett symboltypsnitt har fel teckenkodning (symbolic fonts)",
    "6.3.8": "texten kan inte översättas till Unicode – sökning och kopiering blir fel (Unicode mapping)",
    "6.4": "filen använder genomskinlighet, som PDF/A-1 inte tillåter (transparency)",
    "6.5": "en anteckning eller länk har otillåtna egenskaper (annotations)",
    "6.6": "filen innehåller handlingar som körs, t.ex. JavaScript eller start av program (actions)",
    "6.7": "metadata (XMP) saknas, har fel form eller stämmer inte med dokumentinformationen (metadata)",
    "6.7.11": "metadata anger inte rätt PDF/A-version (PDF/A identification)",
    "6.8": "dokumentets logiska struktur (logical structure)",
    "6.9": "filen har formulärfält med otillåtna egenskaper (interactive forms)",
}

_PART_2 = {
    "6.1": "filens struktur (file structure)",
    "6.1.2": "filhuvudet är inte som PDF/A kräver (file header)",
    "6.1.3": "filens avslutning saknar id eller är krypterad (file trailer: ID, encryption)",
    "6.1.4": "korsreferenstabellen har fel form (cross-reference table)",
    "6.1.5": "dokumentinformationen har fel form (document information dictionary)",
    "6.1.6": "en textsträng i filen har fel form (string objects)",
    "6.1.7": "en dataström har fel längd, form eller packning (streams)",
    "6.1.8": "ett namn i filen har fel form (name objects)",
    "6.1.9": "ett objekt i filen har fel form (indirect objects)",
    "6.1.10": "ett objekt i filen har fel form (object streams)",
    "6.1.12": "filen överskrider PDF:s gränser för storlek eller antal (implementation limits)",
    "6.1.13": "filen överskrider PDF:s gränser för storlek eller antal (implementation limits)",
    "6.2": "grafik och färger (graphics)",
    "6.2.2": "filen innehåller otillåtna operatorer i sidans innehåll (content streams)",
    "6.2.3": "färgprofilen för utskrift (OutputIntent) saknas eller är fel – färgerna kan inte "
             "återges säkert (output intent)",
    "6.2.4": "en färgrymd är inte tillåten utan färgprofil (colour spaces)",
    "6.2.5": "grafiktillståndet använder otillåtna funktioner (extended graphics state)",
    "6.2.6": "ett otillåtet återgivningssätt för färger (rendering intents)",
    "6.2.7": "ett otillåtet rastermönster eller skuggning (halftones)",
    "6.2.8": "en bild har egenskaper PDF/A inte tillåter (images)",
    "6.2.9": "ett formulär- eller referensobjekt har otillåtna egenskaper (XObjects)",
    "6.2.10": "genomskinlighet används på ett sätt PDF/A inte tillåter (transparency)",
    "6.2.11": "typsnitt (fonts)",
    "6.2.11.2": "ett typsnitt har fel form (font types)",
    "6.2.11.3": "ett sammansatt typsnitt har fel teckenkodning (composite fonts)",
    "6.2.11.4": "ett typsnitt är inte inbäddat i filen – texten kan se annorlunda ut på andra datorer "
                "(font embedding)",
    "6.2.11.5": "typsnittets teckenbredder stämmer inte med det inbäddade typsnittet (font metrics)",
    "6.2.11.6": "ett symboltypsnitt har fel teckenkodning (symbolic fonts)",
    "6.2.11.7": "texten kan inte översättas till Unicode – sökning och kopiering blir fel (Unicode mapping)",
    "6.2.11.8": "texten visar ett tecken som typsnittet saknar (.notdef glyph)",
    "6.3": "en anteckning eller länk har otillåtna egenskaper (annotations)",
    "6.4": "filen har formulärfält med otillåtna egenskaper (interactive forms)",
    "6.5": "filen innehåller handlingar som körs, t.ex. JavaScript eller start av program (actions)",
    "6.6": "metadata (XMP) saknas, har fel form eller stämmer inte med dokumentinformationen (metadata)",
    "6.6.4": "metadata anger inte rätt PDF/A-version (PDF/A identification)",
    "6.7": "dokumentets logiska struktur (logical structure)",
    "6.8": "filen har bifogade filer som inte själva är PDF/A (embedded files)",
    "6.9": "filen har valbara lager på ett sätt PDF/A inte tillåter (optional content)",
    "6.10": "filen har alternativa presentationer (alternate presentations)",
    "6.11": "dokumentet är undertecknat på ett sätt PDF/A inte tillåter (digital signatures)",
}

_TABLES = {"1": _PART_1, "2": _PART_2, "3": _PART_2}
_RULE = re.compile(r"^ISO_19005_(?P<part>\d):(?P<clause>[\d.]+)(?:-\d+)?$")


def explain(rule: str) -> str:
    """Plain words for a validator's rule id; unknown ids are named, never hidden."""
    match = _RULE.match(rule)
    if match is None:
        if rule.startswith("pikepdf:schema-"):
            return "filen innehåller något som validatorn inte kan bedöma (a construct the validator does not check)"
        return "validatorns egen regel (the validator's own rule)"
    table = _TABLES.get(match["part"], {})
    clause = match["clause"].rstrip(".")
    while clause:
        if clause in table:
            return table[clause]
        clause = clause.rpartition(".")[0]
    return f"PDF/A-{match['part']}, avsnitt {match['clause']} i ISO 19005-{match['part']}"
