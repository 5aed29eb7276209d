"""Reference data: the regency's wilayah and every vocabulary, with labels."""

from marshmallow import Schema, fields

from pilar.cases.vocabularies import CODES


class Village(Schema):
    code = fields.String(metadata={"description": "Kemendagri code, e.g. 35.01.04.1001"})
    name = fields.String()
    level = fields.String(metadata={"description": "desa or kelurahan"})


class Kecamatan(Schema):
    code = fields.String(metadata={"description": "e.g. 35.01.04"})
    name = fields.String()
    desa = fields.List(fields.Nested(Village), metadata={"description": "its desa and kelurahan, by code"})


class Regency(Schema):
    code = fields.String()
    name = fields.String()


class WilayahOut(Schema):
    regency = fields.Nested(Regency)
    kecamatan = fields.List(fields.Nested(Kecamatan), metadata={"description": "by code"})


class Labels(Schema):
    id = fields.String(metadata={"description": "in Bahasa Indonesia"})
    en = fields.String(metadata={"description": "in English"})


class VocabularyEntry(Schema):
    code = fields.String(metadata={"description": "what the API sends and accepts"})
    labels = fields.Nested(Labels)


VocabulariesOut = Schema.from_dict(
    {name: fields.List(fields.Nested(VocabularyEntry), metadata={"description": ", ".join(codes)})
     for name, codes in CODES.items()},
    name="VocabulariesOut",
)
