"""Chicago ridership: the CTA's daily bus and rail boardings, 2001-2021, the book's chapter 15.

The Chicago Transit Authority's ``CTA_-_Ridership_-_Daily_Boarding_Totals.csv`` comes from the
book's ``ridership.tgz`` (its ``ridership/`` folder is the file's place in the dataset cache) and
is checked against its SHA-256. `load_data` prepares it exactly as the book does.
"""

from kiln.datasets.download import fetch

RIDERSHIP_CSV = ("ridership/CTA_-_Ridership_-_Daily_Boarding_Totals.csv",
                 "https://github.com/ageron/data/raw/main/ridership.tgz",
                 "34faaba085ca21434b7dd3e0abcbaf8cde5be3a4f170dda1c8caef72c5c4bd06")


def load_data():
    """Loads the daily ridership as a pandas DataFrame indexed by date, as chapter 15 does.

    The CSV's columns ``service_date, day_type, bus, rail_boardings, total_rides`` are renamed
    ``date, day_type, bus, rail, total``; the rows are sorted by date, which becomes the index;
    the ``total`` column (bus + rail) and the duplicated rows of the raw file are dropped.

    Returns:
        A DataFrame with a DatetimeIndex named ``date`` and the columns ``day_type`` (``"W"``
        weekday, ``"A"`` Saturday, ``"U"`` Sunday or holiday), ``bus`` and ``rail``.

    Raises:
        ImportError: without pandas.

    Example:

    >>> df = kiln.datasets.ridership.load_data()
    >>> diff_7 = df[["bus", "rail"]].diff(7)["2019-03":"2019-05"]
    >>> diff_7.abs().mean()  # the naive forecast's MAE
    bus     43915.608696
    rail    42143.271739
    dtype: float64
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("kiln.datasets.ridership.load_data returns a DataFrame: install pandas "
                          "(pip install pandas).") from None
    path = fetch(*RIDERSHIP_CSV, archive_member=RIDERSHIP_CSV[0])
    df = pd.read_csv(path, parse_dates=["service_date"])
    df.columns = ["date", "day_type", "bus", "rail", "total"]
    df = df.sort_values("date").set_index("date")
    return df.drop("total", axis=1).drop_duplicates()
