package results

import (
	"encoding/json"
	"fmt"
)

// schemaV1 is the first schema. Its records named some quantities without
// their unit; runs recorded with it must stay readable, so Read maps those
// names onto the current fields.
const schemaV1 = 1

// v1Names holds only the JSON names that version 2 changed; every other
// field kept its name and decodes straight into Record. Pointers and slices
// mirror Record so that an absent object stays absent.
type v1Names struct {
	Scenario struct {
		Size     int     `json:"size"`
		Load     float64 `json:"load"`
		Rate     float64 `json:"rate"`
		Capacity float64 `json:"capacity"`
	} `json:"scenario"`
	Load *struct {
		Size     int     `json:"size"`
		Rate     float64 `json:"rate"`
		Timeline []struct {
			T float64 `json:"t_s"`
		} `json:"timeline"`
	} `json:"load"`
}

// toCurrent brings rec, decoded from line under the current names, to the
// current schema, so that nothing downstream needs to know which version
// wrote it. A version this build does not know is an error.
func toCurrent(line []byte, rec *Record) error {
	switch rec.Schema {
	case SchemaVersion:
		return nil
	case schemaV1:
		return upgradeV1(line, rec)
	}
	return fmt.Errorf("schema version %d, this build reads %d and %d", rec.Schema, schemaV1, SchemaVersion)
}

// upgradeV1 moves the values of a version-1 line, already decoded into rec
// under the names both versions share, into the fields version 2 renamed,
// and marks rec as current: written back, it is a valid version-2 record.
func upgradeV1(line []byte, rec *Record) error {
	var old v1Names
	if err := json.Unmarshal(line, &old); err != nil {
		return fmt.Errorf("schema 1: %w", err)
	}
	sc := &rec.Scenario
	sc.SizeBytes = old.Scenario.Size
	sc.LoadFraction = old.Scenario.Load
	sc.RateMsgsPerSec = old.Scenario.Rate
	sc.CapacityMsgsPerSec = old.Scenario.Capacity
	if old.Load != nil && rec.Load != nil {
		rec.Load.SizeBytes = old.Load.Size
		rec.Load.RateMsgsPerSec = old.Load.Rate
		if len(old.Load.Timeline) != len(rec.Load.Timeline) {
			return fmt.Errorf("schema 1: timeline of %d seconds decoded as %d", len(old.Load.Timeline), len(rec.Load.Timeline))
		}
		for i, s := range old.Load.Timeline {
			rec.Load.Timeline[i].ElapsedS = s.T
		}
	}
	rec.Schema = SchemaVersion
	return nil
}
