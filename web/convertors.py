"""URL path convertors the faces share.

``{name:id}`` takes a database id: one to nine ASCII digits, so every id it
passes fits an integer column; a longer run of digits matches no route (404).
"""

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
